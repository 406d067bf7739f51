"""Trakt misbehaving, through the real sync code against the sandbox: rate limits (Trakt's
and Cloudflare's), 5xx and 52x pages, timeouts, refusals a person must act on, a broken
answer, and Redis going away. Outcomes are read where they land: both sides' ratings,
the connection's ``last_error``, rq-scheduler's zset, the worker's registries.

Where the worker is the point (it is freed; the retry really runs) a real ``flask demo
worker`` and ``flask demo scheduler`` run; elsewhere the job runs in this process in a
burst worker, which still gives it RQ's job context (``get_current_job``).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from rq import Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from aperture_trakt_plugin import extension, sync
from aperture_trakt_plugin.queueing import retries
from aperture_trakt_plugin.storage.budgets import LAST_WRITE_KEY
from aperture_trakt_plugin.storage.models import TraktOutbox
from aperture_trakt_plugin.sync import writes
from aperture_trakt_plugin.trakt.errors import RateLimited
from aperture_trakt_plugin.trakt.rate_limits import APP_GET, USER_GET, USER_WRITE
from aperture_trakt_plugin.usecases import diagnosis, jobs
from harness.services import ManagedProcess
from tests.connect_helpers import (
    NO_RAY_BLOCK,
    RAY_ID_NOTE,
    connection,
    flask_command,
    run_trakt_jobs,
    trakt_queue,
)
from tests.fixtures_host import csrf_token_from
from tests.sync_helpers import (
    FIGHT_CLUB,
    INCEPTION,
    MATRIX,
    fresh_connection,
    host_ratings,
    item_id,
    plugin_rows,
    rate_on_host,
    rate_on_trakt,
    sandbox_now,
    trakt_ratings,
    values,
)

pytestmark = [pytest.mark.trakt]

USER, TRAKT_USER = "alice", "alice_trakt"
ACTIVITIES = "/sync/last_activities"
T = TypeVar("T")
HTML_520 = "<!DOCTYPE html><html><title>520: Web server is returning an unknown error</title>"


@pytest.fixture()
def alice(host_app, sandbox):
    """Alice connected and in sync, holding Inception at 7 on both sides; no job queued."""
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    rate_on_host(host_app, USER, INCEPTION, 7, sandbox_now(sandbox))
    with host_app.app_context():
        assert jobs.push_user(uid)["pushed"] == 1
    trakt_queue(host_app).empty()
    sandbox.advance_clock(2)
    sandbox.clear_requests()
    assert values(trakt_ratings(sandbox, TRAKT_USER)) == {INCEPTION: 7}
    return uid


@pytest.fixture()
def worker(alice, host_worker):
    """The real worker, started once alice is connected (no stray job for it to take)."""
    return host_worker


@pytest.fixture()
def scheduler(worker, host_app, host_config, tmp_path):
    process = flask_command(
        host_app, host_config, tmp_path / "logs", "demo", "scheduler", "--interval", "1"
    )
    yield process
    process.stop()


def redis(host_app):
    return host_app.extensions["aperture_host"].redis


def wait_for(
    condition: Callable[[], T], timeout: float, what: str, process: ManagedProcess | None = None
) -> T:
    """Polls ``condition`` until it is truthy; fails with the process's log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    logs = f"\n{process.output()[-3000:]}" if process is not None else ""
    raise AssertionError(f"{what}: not within {timeout} s{logs}")


def waiting_retries(host_app, job_id: str) -> dict[str, datetime]:
    with host_app.app_context():
        return retries.scheduled_at([job_id])


def last_error(host_app) -> str:
    conn = connection(host_app, USER)
    assert conn is not None
    return conn.last_error or ""


def run_sync_job(host_app, uid: int) -> Job:
    """Queues alice's sync and runs it here, in RQ's job context; returns the job."""
    with host_app.app_context():
        job_id = jobs.enqueue_user_sync(uid, "test")
    run_trakt_jobs(host_app)
    return Job.fetch(job_id, connection=redis(host_app))


def trakt_429_headers(retry_after: int) -> dict[str, str]:
    until = (datetime.now(UTC) + timedelta(seconds=retry_after)).isoformat()
    return {
        "Retry-After": str(retry_after),
        "X-Ratelimit": json.dumps(
            {
                "name": "AUTHED_API_GET_LIMIT",
                "period": 300,
                "limit": 1000,
                "remaining": 0,
                "until": until,
            }
        ),
    }


# --- rate limits: the worker is freed, the retry waits for Trakt's time ----------------------


@pytest.mark.parametrize("kind", ["trakt", "cloudflare"])
def test_a_429_frees_the_worker_and_schedules_the_sync_after_retry_after(
    kind, alice, worker, host_app, sandbox
):
    if kind == "trakt":
        sandbox.fault(
            "GET", ACTIVITIES, 429, headers=trakt_429_headers(3000), body={"error": "rate limited"}
        )
    else:
        sandbox.cloudflare_429("GET", ACTIVITIES, retry_after=3000)
    job_id = jobs.user_sync_job_id(alice)
    started = time.monotonic()
    with host_app.app_context():
        assert jobs.enqueue_user_sync(alice, "test") == job_id
    job = Job.fetch(job_id, connection=redis(host_app))
    wait_for(
        lambda: job.get_status(refresh=True) == JobStatus.FINISHED,
        10,
        "the sync job finishing",
        worker,
    )
    assert time.monotonic() - started < 5  # neither 3,000 s nor max_sleep spent waiting
    assert job.return_value()["status"] == "rescheduled"
    assert StartedJobRegistry("trakt", connection=redis(host_app)).get_job_ids() == []
    (rq_worker,) = Worker.all(connection=redis(host_app))
    wait_for(lambda: rq_worker.get_state() == "idle", 5, "the worker idle", worker)

    due = waiting_retries(host_app, job_id)
    assert list(due) == [job_id + "-retry"]
    wait = (due[job_id + "-retry"] - datetime.now(UTC)).total_seconds()
    assert 3000 + 1 - 5 <= wait <= 3000 + 31, wait  # Retry-After plus 1..31 s of jitter
    message = last_error(host_app)
    assert (
        "GET /sync/last_activities: Trakt's rate limit was reached (retry after 3000 s)" in message
        and "(tries again at " in message
    ), message

    # The bucket is closed in Redis for every process: a sync tried right away here does
    # not call Trakt at all.
    sandbox.clear_requests()
    with host_app.app_context(), pytest.raises(RateLimited) as caught:
        sync.sync_user_ratings(alice)
    assert "held back" in str(caught.value) and caught.value.retry_after > 2900
    assert sandbox.requests() == []
    with host_app.app_context():
        budgets = extension.budgets()
        assert budgets.closed_for(USER_GET, str(alice)) > 2900
        server_closed = [
            budgets.closed_for(bucket, "someone-else") > 2900 for bucket in (APP_GET, USER_WRITE)
        ]
    assert server_closed == ([True, True] if kind == "cloudflare" else [False, False])


# --- passing faults: the retry really runs after the first delay -----------------------------

PASSING = {
    "503": (
        dict(status=503, body={"error": "service unavailable"}),
        "GET /sync/last_activities: Trakt is having trouble (503)",
    ),
    "520": (
        dict(
            status=520,
            body=HTML_520,
            headers={"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare"},
        ),
        "GET /sync/last_activities: Trakt is having trouble (520)",
    ),
    "timeout": (dict(delay_ms=2500), "GET /sync/last_activities: Trakt did not answer within 1 s"),
}
FAST_RETRIES = {"APERTURE_TRAKT_RETRY_DELAYS": "[2, 2]", "APERTURE_TRAKT_HTTP_TIMEOUT": 1}


@pytest.mark.parametrize("host_config", [FAST_RETRIES], indirect=True)
@pytest.mark.parametrize("fault", list(PASSING))
def test_a_passing_fault_is_retried_after_the_first_delay_and_nothing_is_lost(
    fault, alice, worker, scheduler, host_app, sandbox
):
    answer, expected = PASSING[fault]
    sandbox.fault("GET", ACTIVITIES, count=-1, **answer)
    rate_on_host(host_app, USER, MATRIX, 8, sandbox_now(sandbox))  # queues a push
    push_id = jobs.USER_JOB.format(kind="push", user_id=alice)

    due = wait_for(lambda: waiting_retries(host_app, push_id), 10, "a retry scheduled", worker)
    sandbox.clear_faults()
    retry = Job.fetch(push_id + "-retry", connection=redis(host_app))
    scheduled = retry.created_at.replace(tzinfo=UTC)  # when the failed push scheduled it
    # The first delay, ±25 %; rq-scheduler keeps due times in whole seconds (rounded down).
    due_at, at = due[push_id + "-retry"].timestamp(), scheduled.timestamp()
    assert math.floor(at - 0.1 + 2 * 0.75) <= due_at <= at + 2 * 1.25, due_at - at
    assert retry.meta["attempt"] == 1
    # The job schedules its retry, then records the error on the connection.
    message = wait_for(lambda: last_error(host_app), 5, "the error recorded", worker)
    assert expected in message and "(tries again at " in message, message
    assert values(trakt_ratings(sandbox, TRAKT_USER)) == {INCEPTION: 7}

    wait_for(
        lambda: MATRIX in trakt_ratings(sandbox, TRAKT_USER),
        15,
        "the retried push reaching Trakt",
        worker,
    )
    wait_for(lambda: plugin_rows(host_app, USER)[1] == 0, 5, "the outbox empty", worker)
    assert (
        values(trakt_ratings(sandbox, TRAKT_USER))
        == values(host_ratings(host_app, USER))
        == {INCEPTION: 7, MATRIX: 8}
    )
    assert waiting_retries(host_app, push_id) == {}
    assert scheduler.alive(), scheduler.output()[-2000:]


def test_a_run_with_more_writes_hands_the_worker_over_and_a_push_sends_the_rest(
    alice, host_app, sandbox, monkeypatch, caplog
):
    """Trakt takes one write per second per user. A run with a second batch to send, while
    other jobs wait, does not sleep through that second: it leaves the rest in the outbox,
    queues a push behind the waiting jobs and ends; the push sends the rest."""
    monkeypatch.setattr(writes, "BATCH", 1)  # two ratings to send: two batches
    at = sandbox_now(sandbox)
    rate_on_host(host_app, USER, MATRIX, 8, at)
    rate_on_host(host_app, USER, FIGHT_CLUB, 6, at)
    queue = trakt_queue(host_app)
    queue.empty()  # the hooks' push: the sync below takes the outbox along
    with host_app.app_context():
        sync_id = jobs.enqueue_user_sync(alice, "test")
        queue.enqueue("aperture_trakt_plugin.usecases.jobs.library_arrivals")  # another job waiting
    with caplog.at_level("INFO", logger="aperture_trakt_plugin.runs"):
        run_trakt_jobs(host_app)

    first = Job.fetch(sync_id, connection=redis(host_app)).return_value()
    assert (first["pushed"], first["deferred"]) == (1, 1), first
    push = Job.fetch(
        jobs.USER_JOB.format(kind="push", user_id=alice), connection=redis(host_app)
    ).return_value()
    assert (push["pushed"], push["deferred"]) == (1, 0), push
    assert (
        values(trakt_ratings(sandbox, TRAKT_USER))
        == values(host_ratings(host_app, USER))
        == {INCEPTION: 7, MATRIX: 8, FIGHT_CLUB: 6}
    )
    ledger, outbox_rows = plugin_rows(host_app, USER)
    assert sorted(ledger.values()) == [6, 7, 8] and outbox_rows == 0
    assert [r["method"] for r in sandbox.requests() if r["method"] == "POST"] == ["POST"] * 2
    # One structured line per user run, in order: the sync, then the push it queued.
    runs = [r for r in caplog.records if r.name == "aperture_trakt_plugin.runs"]
    assert [
        (r.trakt_run["job"], r.trakt_run["outcome"], r.trakt_run["pushed"], r.trakt_run["deferred"])
        for r in runs
    ] == [("sync", "synced", 1, 1), ("push", "pushed", 1, 0)]
    assert runs[0].getMessage().startswith(f"job=sync user={alice} outcome=synced pushed=1 ")
    assert all(r.trakt_run["api_calls"] >= 2 and r.trakt_run["ms"] >= 0 for r in runs)


@pytest.mark.parametrize(
    "host_config",
    [{"APERTURE_TRAKT_RATE_LIMITS": {"user_write": "1 per 20 seconds"}}],
    indirect=True,
)
def test_a_write_wait_too_long_to_sleep_schedules_the_rest_even_with_nothing_queued(
    alice, host_app, sandbox, monkeypatch
):
    """With writes spaced further apart than a worker may sleep (a lowered limit), a run
    whose first batch went leaves the rest to a push in rq-scheduler at the next write
    slot, instead of failing half-way; the person reads a wait, not an error."""
    monkeypatch.setattr(writes, "BATCH", 1)
    at = sandbox_now(sandbox)
    rate_on_host(host_app, USER, MATRIX, 8, at)
    rate_on_host(host_app, USER, FIGHT_CLUB, 6, at)
    queue = trakt_queue(host_app)
    queue.empty()
    with host_app.app_context():
        redis(host_app).delete(LAST_WRITE_KEY.format(key=str(alice)))  # the fixture's push
        sync_id = jobs.enqueue_user_sync(alice, "test")
    run_trakt_jobs(host_app)  # nothing else is queued

    first = Job.fetch(sync_id, connection=redis(host_app)).return_value()
    assert (first["status"], first["pushed"], first["deferred"]) == ("synced", 1, 1), first
    push_id = jobs.user_job_id("push", alice)
    due = waiting_retries(host_app, push_id)[push_id + "-retry"]
    assert 15 <= (due - datetime.now(UTC)).total_seconds() <= 21, due
    assert queue.count == 0 and last_error(host_app) == ""
    with host_app.app_context():
        headline = diagnosis.diagnose(alice).headline
    assert headline.startswith("Waiting for Trakt's rate limit until "), headline
    assert plugin_rows(host_app, USER)[1] == 1  # the rest, kept in the outbox


@pytest.mark.parametrize("host_config", [{"APERTURE_TRAKT_RETRY_DELAYS": "[]"}], indirect=True)
def test_with_the_retries_used_up_the_job_fails_with_the_reason(alice, host_app, sandbox):
    sandbox.fault("GET", ACTIVITIES, 503, count=-1)
    job = run_sync_job(host_app, alice)
    assert job.get_status() == JobStatus.FAILED
    message = last_error(host_app)
    assert message == (
        "GET /sync/last_activities: Trakt is having trouble (503); "
        "the next scheduled sync tries again"
    ), message
    assert waiting_retries(host_app, job.id) == {}


# --- refusals a person must act on: no retry, the message says who ---------------------------


def test_401_twice_needs_reconnecting_and_is_not_retried(alice, host_app, sandbox):
    sandbox.fault("GET", ACTIVITIES, 401, count=2)
    job = run_sync_job(host_app, alice)
    assert job.get_status() == JobStatus.FAILED
    conn = connection(host_app, USER)
    assert conn.needs_reconnect
    assert "Reconnect Trakt to resume syncing" in (conn.last_error or "")
    assert [r["path"] for r in sandbox.requests(method="POST")] == ["/oauth/token"]
    assert waiting_retries(host_app, job.id) == {}


@pytest.mark.parametrize(
    "answer",
    [
        {},  # Trakt's usual empty body
        {"body": {"error": "forbidden"}},
        {
            "body": "Forbidden",
            "headers": {
                "Content-Type": "text/plain",
                "Server": "cloudflare",
                "CF-RAY": "1a2b3c4d5e6f7a8b-FRA",
                "x-request-id": "abc-123",
            },
        },
    ],
    ids=["empty", "json", "text-from-the-app"],
)
def test_trakts_own_403_records_invalid_credentials_for_the_admin(answer, alice, host_app, sandbox):
    """A 403 from Trakt's application (not HTML; the last one passed Cloudflare, as every
    answer does, but carries the application's x-request-id) refuses the app."""
    sandbox.fault("GET", ACTIVITIES, 403, count=-1, **answer)
    job = run_sync_job(host_app, alice)
    assert job.get_status() == JobStatus.FAILED
    with host_app.app_context():
        problem = extension.state().settings.credentials_problem()
    assert problem is not None and problem.startswith("Invalid credentials"), problem
    assert "refused the app's Client ID (403)" in problem
    assert "Trakt may have deleted the app (its owner's VIP lapsed" in problem
    assert waiting_retries(host_app, job.id) == {}


def test_a_deleted_app_is_invalid_credentials_and_not_retried(alice, host_app, sandbox):
    """Trakt deletes the apps of lapsed VIPs and inactive apps (CONTRACT 4.1): the
    sandbox's deleted app gets the application's JSON 403, which refuses the app."""
    sandbox.delete_app("sandbox-client-id")
    job = run_sync_job(host_app, alice)
    assert job.get_status() == JobStatus.FAILED
    with host_app.app_context():
        problem = extension.state().settings.credentials_problem()
    assert problem is not None and "Trakt may have deleted the app" in problem, problem
    assert "firewall" not in problem
    assert waiting_retries(host_app, job.id) == {}


@pytest.mark.parametrize("ray", [True, False], ids=["with-ray-id", "without"])
def test_cloudflares_403_is_a_passing_fault_retried_after_a_long_pause(
    ray, alice, host_app, sandbox
):
    """Cloudflare's firewall page says nothing about the credentials: the sync ends as a
    passing fault, its message names Cloudflare (and the Ray ID, for asking Trakt), and
    it tries again after at least retries.FIREWALL_PAUSE (±25 %), not 30 s."""
    if ray:
        sandbox.cloudflare_403("GET", ACTIVITIES, count=-1)
    else:
        sandbox.fault("GET", ACTIVITIES, count=-1, **NO_RAY_BLOCK)
    job = run_sync_job(host_app, alice)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value()["status"] == "rescheduled"
    message = last_error(host_app)
    assert re.match(
        re.escape("GET /sync/last_activities: Trakt's firewall (Cloudflare) blocked this request")
        + (RAY_ID_NOTE if ray else "")
        + re.escape("; the app's credentials were not refused"),
        message,
    ), message
    assert "(tries again at " in message, message
    due = waiting_retries(host_app, job.id)[job.id + "-retry"]
    wait = (due - datetime.now(UTC)).total_seconds()
    assert retries.FIREWALL_PAUSE * 0.75 - 5 <= wait <= retries.FIREWALL_PAUSE * 1.25 + 1, wait
    with host_app.app_context():
        assert extension.state().settings.credentials_problem() is None
        headline = diagnosis.diagnose(alice).headline
    assert headline.startswith("Retrying after an error at "), headline
    assert "Cloudflare" in headline and "Invalid credentials" not in headline
    assert not connection(host_app, USER).needs_reconnect

    # In the foreground (`flask trakt sync`) the same block is reported, not retried.
    result = host_app.test_cli_runner().invoke(args=["trakt", "sync", "--user", USER])
    assert result.exit_code == 1
    assert "Trakt's firewall (Cloudflare) blocked this request" in result.output
    assert "Invalid credentials" not in result.output


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            423,
            "the Trakt account is locked or deactivated (423); its owner must contact "
            "Trakt support",
        ),
        (426, "this needs Trakt VIP (426): https://app.trakt.tv/vip"),
    ],
)
def test_a_locked_account_or_vip_only_says_so_and_is_not_retried(
    status, expected, alice, host_app, sandbox
):
    sandbox.fault("GET", ACTIVITIES, status, count=-1)
    job = run_sync_job(host_app, alice)
    assert job.get_status() == JobStatus.FAILED
    assert last_error(host_app) == f"GET /sync/last_activities: {expected}"
    assert waiting_retries(host_app, job.id) == {}
    assert not connection(host_app, USER).needs_reconnect


def test_420_names_the_account_limits_from_users_settings(alice, host_app, sandbox):
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    limits = sandbox.api("GET", "/users/settings", token=token).json()["limits"]
    sandbox.fault("GET", ACTIVITIES, 420, count=-1)
    job = run_sync_job(host_app, alice)
    assert job.get_status() == JobStatus.FAILED
    message = last_error(host_app)
    assert message.startswith(
        "GET /sync/last_activities: the Trakt account reached one of "
        "its limits (420). This account's limits: "
    ), message
    assert message.endswith("Trakt VIP raises them.")
    for name, counts in limits.items():
        for key, n in counts.items():
            assert f"{key.replace('_', ' ')} {n}" in message.split(f"{name}: ", 1)[1], message
    assert waiting_retries(host_app, job.id) == {}


# --- a broken answer -------------------------------------------------------------------------


def test_a_cut_off_ratings_answer_is_retried_and_nothing_is_written_half_way(
    alice, host_app, sandbox
):
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    rate_on_trakt(sandbox, token, FIGHT_CLUB, 9, sandbox_now(sandbox))
    sandbox.advance_clock(2)
    good = sandbox.api("GET", "/sync/ratings/movies", token=token).text
    assert '"tmdb": 550' in good.replace('"tmdb":550', '"tmdb": 550')
    sandbox.fault("GET", "/sync/ratings/movies", 200, body=good[: len(good) * 2 // 3])
    before_host, before_rows = host_ratings(host_app, USER), plugin_rows(host_app, USER)

    job = run_sync_job(host_app, alice)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value()["status"] == "rescheduled"
    assert "GET /sync/ratings/movies: Trakt's answer was not a JSON list" in last_error(host_app)
    assert list(waiting_retries(host_app, job.id)) == [job.id + "-retry"]
    assert host_ratings(host_app, USER) == before_host
    assert plugin_rows(host_app, USER) == before_rows

    with host_app.app_context():  # the retry, once Trakt answers whole again
        assert sync.sync_user_ratings(alice).pulled == 1
    assert values(host_ratings(host_app, USER)) == {INCEPTION: 7, FIGHT_CLUB: 9}


# --- Redis going away ------------------------------------------------------------------------


def test_a_rating_made_while_redis_is_down_is_kept_and_synced_after(
    alice, host_app, host_client, login, redis_server, sandbox
):
    login(host_client, USER)
    token = csrf_token_from(host_client.get("/library").get_data(as_text=True))
    redis_server.stop()
    try:
        response = host_client.post(
            "/library/rate",
            data={
                "csrf_token": token,
                "item_id": item_id(host_app, MATRIX),
                "value": "6",
                "next": "/library",
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        assert values(host_ratings(host_app, USER)) == {INCEPTION: 7, MATRIX: 6}
        with host_app.app_context():
            rows = (
                extension.state().host.db.session.query(TraktOutbox).filter_by(user_id=alice).all()
            )
            assert [(row.item_id, row.value, row.state) for row in rows] == [
                (item_id(host_app, MATRIX), 6, "pending")
            ]
            with pytest.raises(sync.SyncBusy, match="Redis is unreachable"):
                sync.sync_user_ratings(alice)
    finally:
        redis_server.start()
    assert values(trakt_ratings(sandbox, TRAKT_USER)) == {INCEPTION: 7}
    with host_app.app_context():
        result = sync.sync_user_ratings(alice)
    assert result.status == "synced", result
    assert (
        values(trakt_ratings(sandbox, TRAKT_USER))
        == values(host_ratings(host_app, USER))
        == {INCEPTION: 7, MATRIX: 6}
    )
    assert plugin_rows(host_app, USER)[1] == 0

"""The scheduled rating sync as an admin runs it: rq-scheduler's entry, Admin → Jobs, the
run log, the mass-removal guard's card, and the scheduler process itself.

Everything runs for real: a ``flask demo worker`` process (a SimpleWorker on the host's
app) on the test's Redis, a ``flask demo scheduler`` (rq-scheduler) process, the Trakt
sandbox, and the host's database — SQLite and PostgreSQL, each test once on both.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rq.job import Job
from rq_scheduler import Scheduler

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.queueing import retries, scheduling
from aperture_trakt_plugin.trakt.wire import trakt_time
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import (
    configure_trakt,
    connect_with_tokens,
    flask_command,
    trakt_queue,
    user_id,
)
from tests.fixtures_host import csrf_token_from, start_worker, wait_for_run, wait_for_workers
from tests.sync_helpers import split_progress

pytestmark = [pytest.mark.trakt, pytest.mark.both_databases]

JOB = "sync-trakt-ratings"
ENTRY_ID = scheduling.SCHEDULE_ID.format(name=JOB)
MATRIX, FIGHT_CLUB, INCEPTION, PULP_FICTION = 603, 550, 27205, 680
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RUN_TIMEOUT = 30.0


@pytest.fixture()
def admin(host_client, login):
    login(host_client, "admin")
    return host_client


# --- the two worlds ----------------------------------------------------------------------


def item(host_app, tmdb: int) -> str:
    with host_app.app_context():
        ref = host_app.extensions["aperture_host"].find_media("movie", ExternalIds(tmdb=tmdb))
    assert ref is not None, f"tmdb {tmdb} is not in the demo library"
    return ref.item_id


def host_ratings(host_app, name: str) -> dict[str, tuple[int, str]]:
    with host_app.app_context():
        return {
            r.media.item_id: (r.value, r.source)
            for r in host_app.extensions["aperture_host"].list_ratings(user_id(host_app, name))
        }


def trakt_write(sandbox, username: str, path: str, movies: list[dict[str, Any]]) -> None:
    """What the user does on trakt.tv, with the sandbox's clock moved past its
    one-write-per-second window before and after, so neither side's write is refused."""
    token = sandbox.issue_tokens(username)["access_token"]
    sandbox.advance_clock(2)
    response = sandbox.api("POST", path, token=token, json={"movies": movies})
    assert response.status_code in (200, 201), response.text
    sandbox.advance_clock(2)


def rate_on_trakt(sandbox, username: str, ratings: dict[int, tuple[int, datetime]]) -> None:
    trakt_write(
        sandbox,
        username,
        "/sync/ratings",
        [
            {"rating": value, "rated_at": trakt_time(at), "ids": {"tmdb": tmdb}}
            for tmdb, (value, at) in ratings.items()
        ],
    )


def unrate_on_trakt(sandbox, username: str, tmdbs: list[int]) -> None:
    trakt_write(
        sandbox, username, "/sync/ratings/remove", [{"ids": {"tmdb": tmdb}} for tmdb in tmdbs]
    )


def connect_and_sync(host_app, sandbox, name: str) -> None:
    """Connects ``name`` as ``<name>_trakt`` and runs the first sync in this process; the
    sync job the connection queued is dropped, it has nothing left to do."""
    connect_with_tokens(host_app, sandbox, name, f"{name}_trakt")
    with host_app.app_context():
        result = sync.sync_user_ratings(user_id(host_app, name))
    assert result.status == "synced", result
    trakt_queue(host_app).empty()


# --- the jobs screen ---------------------------------------------------------------------


def post_form(client, action: str, **fields):
    token = csrf_token_from(client.get("/admin/jobs").get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **fields}, follow_redirects=True)


def run_now(admin) -> int:
    html = post_form(admin, f"/admin/jobs/{JOB}/run").get_data(as_text=True)
    return int(re.search(r"Run #(\d+)", html).group(1))


def wait_for_log(
    admin, run_id: int, *needles: str, worker=None, timeout: float = RUN_TIMEOUT
) -> dict[str, Any]:
    """The run as its ``.json`` page shows it, once it has finished with every ``needle``
    in its log: the fan-out finishes first, the per-user jobs then add their lines."""
    deadline = time.monotonic() + timeout
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = admin.get(f"/admin/jobs/runs/{run_id}.json").get_json()
        if run["status"] in ("succeeded", "failed") and all(n in run["log"] for n in needles):
            return run
        time.sleep(0.1)
    output = worker.output()[-3000:] if worker else ""
    raise AssertionError(f"run {run_id} did not log {needles}: {run}\nworker:\n{output}")


def log_lines(run: dict[str, Any]) -> list[str]:
    """The log without its timestamps."""
    return [line.split("] ", 1)[1] for line in run["log"].strip().splitlines()]


def schedule_entries(host_app) -> list[tuple[Job, datetime]]:
    scheduler = Scheduler(connection=host_app.extensions["aperture_host"].redis)
    return list(scheduler.get_jobs(with_times=True))


def the_entry(host_app) -> tuple[str, datetime]:
    """The rating sync's one rq-scheduler entry: its cron and next time (naive UTC).
    (The discovery refresh has an entry of its own beside it.)"""
    entries = schedule_entries(host_app)
    ids = [job.id for job, _ in entries]
    assert len(ids) == len(set(ids)), entries  # reconciled, never doubled
    entries = [(job, at) for job, at in entries if job.id == ENTRY_ID]
    assert len(entries) == 1, entries
    job, at = entries[0]
    assert job.func_name == "aperture_trakt_plugin.usecases.jobs.run_sync_all"
    assert job.origin == "trakt"
    return job.meta["cron_string"], at


# --- (a) the schedule --------------------------------------------------------------------


def test_setup_schedules_the_default_and_the_jobs_screen_replaces_it(admin, host_app):
    cron, at = the_entry(host_app)
    now = datetime.now(UTC).replace(tzinfo=None)
    assert cron == "0 */2 * * *"
    assert (at.minute, at.second, at.hour % 2) == (0, 0, 0)
    assert now - timedelta(minutes=1) < at <= now + timedelta(hours=2)  # set up a moment ago
    html = admin.get("/admin/jobs").get_data(as_text=True)
    assert f'id="job-{JOB}"' in html and "<code>0 */2 * * *</code>" in html

    html = post_form(
        admin, f"/admin/jobs/{JOB}/schedule", cron="*/15 * * * *", enabled="on"
    ).get_data(as_text=True)
    assert "Sync Trakt ratings: schedule saved." in html
    cron, at = the_entry(host_app)
    assert cron == "*/15 * * * *" and at.minute % 15 == 0

    post_form(admin, f"/admin/jobs/{JOB}/schedule", cron="*/15 * * * *", enabled="on")
    assert the_entry(host_app) == (cron, at)  # the same cron again: untouched, not doubled

    post_form(admin, f"/admin/jobs/{JOB}/schedule", cron="*/15 * * * *")  # unticked
    assert ENTRY_ID not in [job.id for job, _ in schedule_entries(host_app)]
    post_form(admin, f"/admin/jobs/{JOB}/schedule", cron="30 4 * * *", enabled="on")
    assert the_entry(host_app)[0] == "30 4 * * *"

    from harness.reference_host import create_app

    # Another process starting (a worker, a second web process) reconciles at its setup:
    # it keeps the saved schedule and adds nothing.
    second = create_app({**host_app.config, "DEMO_AUTO_SEED": False})
    with second.app_context():
        second.extensions["aperture_host"].db.engine.dispose()
    assert the_entry(host_app)[0] == "30 4 * * *"


def test_a_redis_that_comes_back_empty_gets_the_schedule_again(admin, host_app, monkeypatch):
    """Redis restarted without persistence loses rq-scheduler's entries; the next request
    (or job) of any process puts the saved schedule back, without a restart."""
    post_form(admin, f"/admin/jobs/{JOB}/schedule", cron="*/15 * * * *", enabled="on")
    host_app.extensions["aperture_host"].redis.flushdb()
    assert schedule_entries(host_app) == []
    monkeypatch.setattr(scheduling, "_next_check", 0.0)  # as if CHECK_EVERY had passed
    admin.get("/library")
    assert the_entry(host_app)[0] == "*/15 * * * *"
    assert len(schedule_entries(host_app)) == 2  # the discovery refresh's is back too
    admin.get("/library")  # checked a moment ago: no second reconcile, nothing doubled
    assert len(schedule_entries(host_app)) == 2


# --- (b) run now -------------------------------------------------------------------------


@pytest.fixture()
def two_users(host_app, sandbox):
    """alice and bob, both connected and synced once; alice already agreed on Pulp Fiction
    with Trakt, and bob on The Matrix."""
    configure_trakt(host_app, sandbox)
    rate_on_trakt(sandbox, "alice_trakt", {PULP_FICTION: (8, T0 - timedelta(days=3))})
    rate_on_trakt(sandbox, "bob_trakt", {MATRIX: (7, T0 - timedelta(days=3))})
    connect_and_sync(host_app, sandbox, "alice")
    connect_and_sync(host_app, sandbox, "bob")


@pytest.fixture()
def worker(two_users, host_worker):
    """The real worker, started once the users are connected (its order matters)."""
    return host_worker


@pytest.mark.slow
def test_run_now_syncs_every_user_in_the_worker_and_logs_each(
    admin, host_app, host_config, sandbox, two_users, tmp_path
):
    alice = user_id(host_app, "alice")
    with host_app.app_context():
        host = host_app.extensions["aperture_host"]
        host.apply_rating(alice, item(host_app, INCEPTION), 6, T0, "aperture")
        host.apply_rating(alice, item(host_app, MATRIX), 5, T0, "aperture")
    # The push the hooks queued is lost (as when Redis restarts before a worker took it):
    # the outbox still holds both changes, and the run must take them.
    trakt_queue(host_app).empty()
    rate_on_trakt(
        sandbox, "alice_trakt", {FIGHT_CLUB: (9, T0), MATRIX: (9, T0 + timedelta(hours=1))}
    )
    unrate_on_trakt(sandbox, "alice_trakt", [PULP_FICTION])
    worker = start_worker(host_app, host_config, tmp_path / "logs")
    try:
        wait_for_workers(host_app, worker)
        run_and_check_the_log(admin, host_app, sandbox, worker)
    finally:
        worker.stop()


def run_and_check_the_log(admin, host_app, sandbox, worker) -> None:
    run_id = run_now(admin)
    run = wait_for_log(admin, run_id, "alice: synced", "bob: unchanged", worker=worker)
    lines = log_lines(run)
    assert run["status"] == "succeeded" and run["error"] is None
    assert lines[0] == "queued 2 user sync(s); 0 skipped; each user's result follows"
    reports, alice_lines = split_progress(lines, "alice")
    assert reports[0] == "alice: reading Trakt's ratings: page 1 of 1", lines  # one type moved
    assert "alice: writes sent to Trakt: 1 of 1" in reports  # Inception, the one push
    assert any(line.startswith("alice: merged ") for line in reports)
    assert set(alice_lines[:-1]) == {
        "alice: this server: movie Fight Club set to 9",
        "alice: this server: movie Pulp Fiction removed",
        "alice: this server: movie The Matrix set to 9 (both changed; trakt's is newer)",
        "alice: Trakt: movie Inception set to 6",
    }, lines
    assert alice_lines[-1].startswith(
        "alice: synced: 1 pushed, 0 removed on Trakt, 2 pulled, 1 removed here, "
        "1 conflicts, 0 not found on Trakt, 0 waiting for the library"
    ), lines
    assert split_progress(lines, "bob") == ([], ["bob: unchanged: nothing changed on Trakt"])

    assert host_ratings(host_app, "alice") == {
        item(host_app, FIGHT_CLUB): (9, "trakt"),
        item(host_app, MATRIX): (9, "trakt"),
        item(host_app, INCEPTION): (6, "aperture"),
    }
    assert {r["movie"]["ids"]["tmdb"]: r["rating"] for r in sandbox.ratings("alice_trakt")} == {
        FIGHT_CLUB: 9,
        MATRIX: 9,
        INCEPTION: 6,
    }

    # Trakt down: each user's failure is a line of the run, the run goes on, and each
    # user's sync waits in rq-scheduler to run again (the worker is not held).
    sandbox.fault("GET", "/sync/last_activities", 503, count=-1)
    run_id = run_now(admin)
    run = wait_for_log(admin, run_id, "alice: rescheduled", "bob: rescheduled", worker=worker)
    assert run["status"] == "succeeded"
    for name in ("alice", "bob"):
        assert any(
            line.startswith(
                f"{name}: rescheduled: GET /sync/last_activities: Trakt is having trouble (503) "
                "(tries again at "
            )
            for line in log_lines(run)
        ), run["log"]
    html = admin.get(f"/admin/jobs/runs/{run_id}").get_data(as_text=True)
    assert "bob: rescheduled: GET /sync/last_activities" in html
    with host_app.app_context():
        waiting = retries.scheduled_at(
            [jobs.user_sync_job_id(user_id(host_app, name)) for name in ("alice", "bob")]
        )
    assert len(waiting) == 2, waiting


# --- (c) the mass-removal guard ----------------------------------------------------------


def blocked_card(admin) -> str | None:
    html = admin.get("/admin/jobs").get_data(as_text=True)
    match = re.search(r'<div class="trakt-card" id="trakt-blocked-syncs">.*?</form>', html, re.S)
    return match.group(0) if match else None


@pytest.mark.slow
def test_a_blocked_sync_waits_on_the_jobs_screen_until_an_admin_confirms(
    admin, host_app, sandbox, two_users, worker
):
    movies = [m["ids"]["tmdb"] for m in sandbox.catalogue()["movies"] if m.get("in_library")][:30]
    rate_on_trakt(sandbox, "alice_trakt", {tmdb: (7, T0) for tmdb in movies})
    run = wait_for_log(admin, run_now(admin), "alice: synced", "bob: unchanged", worker=worker)
    assert len(host_ratings(host_app, "alice")) == 31  # with Pulp Fiction from before
    assert blocked_card(admin) is None

    unrate_on_trakt(sandbox, "alice_trakt", movies[:25])
    run = wait_for_log(admin, run_now(admin), "alice: blocked", "bob: unchanged", worker=worker)
    assert (
        "alice: blocked: this sync would remove 25 of the 31 ratings on this server; it "
        "waits for an admin's confirmation"
    ) in run["log"]
    assert len(host_ratings(host_app, "alice")) == 31
    card = blocked_card(admin)
    alice = user_id(host_app, "alice")
    assert card is not None and f'id="trakt-blocked-{alice}"' in card
    assert "would remove 25 of the 31 ratings" in card

    # Still blocked at the next run: nothing changed, nobody decided.
    wait_for_log(admin, run_now(admin), "alice: blocked", worker=worker)
    assert len(host_ratings(host_app, "alice")) == 31

    response = admin.post(
        f"/plugins/trakt/admin/confirm-sync/{alice}",
        data={"csrf_token": csrf_token_from(card), "next": "/admin/jobs", "decision": "confirm"},
    )
    assert (response.status_code, response.headers["Location"]) == (302, "/admin/jobs")
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(host_ratings(host_app, "alice")) != 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(host_ratings(host_app, "alice")) == 6, worker.output()[-3000:]
    assert blocked_card(admin) is None
    run = wait_for_log(admin, run_now(admin), "alice: ", "bob: ", worker=worker)
    assert "alice: unchanged: nothing changed on Trakt" in log_lines(run)


def test_an_admin_may_dismiss_a_blocked_sync(admin, host_app, sandbox, two_users):
    """Dismissing only hides the card: the next run asks again, nothing is removed."""
    movies = [m["ids"]["tmdb"] for m in sandbox.catalogue()["movies"] if m.get("in_library")][:30]
    rate_on_trakt(sandbox, "alice_trakt", {tmdb: (7, T0) for tmdb in movies})
    alice = user_id(host_app, "alice")
    with host_app.app_context():
        sync.sync_user_ratings(alice)
    unrate_on_trakt(sandbox, "alice_trakt", movies)
    with host_app.app_context():
        assert sync.sync_user_ratings(alice).status == "blocked"
    card = blocked_card(admin)
    admin.post(
        f"/plugins/trakt/admin/confirm-sync/{alice}",
        data={"csrf_token": csrf_token_from(card), "next": "/admin/jobs", "decision": "dismiss"},
    )
    assert blocked_card(admin) is None
    assert trakt_queue(host_app).job_ids == []  # nothing was let through
    with host_app.app_context():
        assert sync.sync_user_ratings(alice).status == "blocked"
    assert blocked_card(admin) is not None and len(host_ratings(host_app, "alice")) == 31


# --- (d) the scheduler process -----------------------------------------------------------


@pytest.mark.slow
def test_the_scheduler_process_enqueues_the_sync_when_it_is_due(
    admin, host_app, host_config, sandbox, two_users, worker, tmp_path
):
    before = datetime.now(UTC).replace(tzinfo=None)
    post_form(admin, f"/admin/jobs/{JOB}/schedule", cron="* * * * *", enabled="on")
    cron, at = the_entry(host_app)
    after = datetime.now(UTC).replace(tzinfo=None)
    assert cron == "* * * * *" and at.second == 0 and before < at <= after + timedelta(minutes=1)

    # Rather than wait for the minute to turn, the entry's time is moved to now, as if it
    # had come: the scheduler process must find it due, queue it, and schedule it again.
    scheduler = Scheduler(connection=host_app.extensions["aperture_host"].redis)
    (entry,) = [job for job, _ in schedule_entries(host_app) if job.id == ENTRY_ID]
    moved_to = datetime.now(UTC).replace(tzinfo=None)
    scheduler.change_execution_time(entry, moved_to)
    rate_on_trakt(sandbox, "bob_trakt", {FIGHT_CLUB: (10, T0)})
    process = flask_command(
        host_app, host_config, tmp_path / "logs", "demo", "scheduler", "--interval", "1"
    )
    try:
        run = wait_for_run(host_app, 1, process=worker)  # a scheduled run opens its own
        assert run.name == JOB
        run = wait_for_log(admin, 1, "alice: unchanged", "bob: synced", worker=worker)
        assert "bob: this server: movie Fight Club set to 10" in log_lines(run)
        cron, next_at = the_entry(host_app)  # back in the schedule, at a coming minute
        assert cron == "* * * * *" and next_at.second == 0 and next_at > moved_to
        assert process.alive(), process.output()[-2000:]
    finally:
        process.stop()
    assert host_ratings(host_app, "bob")[item(host_app, FIGHT_CLUB)] == (10, "trakt")

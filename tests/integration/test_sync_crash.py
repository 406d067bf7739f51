"""A worker killed with SIGKILL in the middle of a push or a pull loses nothing: the next
run, in a new worker, ends with both sides equal, the outbox empty and no rating lost,
duplicated or re-dated (issue #5).

"The middle" is made reliable by the sandbox: one call is answered three seconds late,
and the worker is killed once the sandbox has taken that call (its fault is spent). The
sandbox still carries the call out after the delay, as Trakt would for a request whose
client died, so a killed write has landed on Trakt while the host never heard back.
A pull killed at its Trakt write is killed after its host writes and before its ledger
write, the gap the crash-safe order of ``sync/run.py`` exists for. The killed worker also
leaves its lock on the user behind; the next run must get through anyway.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from rq.job import Job, JobStatus

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import trakt_queue
from tests.fixtures_host import start_worker
from tests.sync_helpers import (
    CASABLANCA,
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
    unrate_on_host,
    unrate_on_trakt,
    values,
)

pytestmark = [pytest.mark.trakt]

USER, TRAKT_USER = "alice", "alice_trakt"
DELAY_MS = 3000


@pytest.fixture()
def alice(host_app, sandbox):
    """Alice in sync with Trakt holding Fight Club at 9, and no job waiting."""
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    trakt_act(sandbox, lambda at: rate_on_trakt(sandbox, token, FIGHT_CLUB, 9, at))
    with host_app.app_context():
        assert sync.sync_user_ratings(uid).pulled == 1
    trakt_queue(host_app).empty()
    return uid, token


def trakt_act(sandbox, act) -> None:
    """A user's action on trakt.tv, in a second of its own (Trakt takes one write per
    second per user, and the plugin's own writes count in the same second)."""
    sandbox.advance_clock(2)
    act(sandbox_now(sandbox))
    sandbox.advance_clock(2)


def kill_worker_inside(host_app, host_config, sandbox, logs, method: str, path: str) -> None:
    """Starts a worker on the queued job, slows one call down, and kills the worker
    with SIGKILL while that call is in flight."""
    sandbox.fault(method, path, delay_ms=DELAY_MS)
    worker = start_worker(host_app, host_config, logs)
    try:
        deadline = time.monotonic() + 20
        while sandbox.http.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json():
            assert worker.alive(), worker.output()[-3000:]
            assert time.monotonic() < deadline, f"{method} {path} was never called"
            time.sleep(0.02)
        worker.kill()
    finally:
        worker.stop()
    assert not worker.alive()


def wait_until(condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s"
        time.sleep(0.05)


def run_again(host_app, host_config, logs, job_id: str) -> dict:
    """The next run: the job queued again, a fresh worker that stops when it is done."""
    worker = start_worker(host_app, host_config, logs, "--burst")
    try:
        worker.proc.wait(60)
    finally:
        worker.stop()
    job = Job.fetch(job_id, connection=host_app.extensions["aperture_host"].redis)
    assert job.get_status() == JobStatus.FINISHED, worker.output()[-3000:]
    return job.return_value()


def assert_settled(host_app, sandbox, uid: int, expected: dict[int, int]) -> None:
    """Both sides hold ``expected`` with the same times, the plugin keeps nothing pending,
    and one more sync finds nothing to do (so nothing is left to re-send or re-pull)."""
    host, trakt = host_ratings(host_app, USER), trakt_ratings(sandbox, TRAKT_USER)
    assert values(host) == values(trakt) == expected
    assert {m: r[1] for m, r in host.items()} == {m: r[1] for m, r in trakt.items()}
    ledger, outbox = plugin_rows(host_app, USER)
    assert outbox == 0 and sorted(ledger.values()) == sorted(expected.values())
    sandbox.advance_clock(2)
    with host_app.app_context():
        again = sync.sync_user_ratings(uid)
    assert (again.status, again.api_calls) == ("unchanged", 1)


def test_a_push_killed_during_its_write_is_finished_by_the_next_run(
    alice, host_app, host_config, sandbox, tmp_path
):
    uid, _ = alice
    at = sandbox_now(sandbox)
    rate_on_host(host_app, USER, MATRIX, 8, at)  # each queues the push job
    rate_on_host(host_app, USER, INCEPTION, 7, at + timedelta(seconds=1))
    unrate_on_host(host_app, USER, FIGHT_CLUB, at + timedelta(seconds=2))
    push_job = jobs.USER_JOB.format(kind="push", user_id=uid)
    assert trakt_queue(host_app).job_ids == [push_job]

    kill_worker_inside(host_app, host_config, sandbox, tmp_path / "killed", "POST", "/sync/ratings")
    landed = {FIGHT_CLUB: 9, MATRIX: 8, INCEPTION: 7}  # the dead worker's write, done late
    wait_until(lambda: values(trakt_ratings(sandbox, TRAKT_USER)) == landed, "the write")
    assert plugin_rows(host_app, USER)[1] == 3  # the host never heard back: all pending

    sandbox.advance_clock(2)
    with host_app.app_context():
        job_id = jobs.enqueue_user_push(uid)
    result = run_again(host_app, host_config, tmp_path / "again", job_id)
    assert result["status"] == "synced"  # Trakt moved since the marker: the full merge
    assert_settled(host_app, sandbox, uid, {MATRIX: 8, INCEPTION: 7})


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/sync/ratings/movies"), ("POST", "/sync/ratings")],
    ids=["reading-trakt", "after-host-writes"],
)
def test_a_pull_killed_midway_is_finished_by_the_next_run(
    alice, host_app, host_config, sandbox, tmp_path, method, path
):
    uid, token = alice
    trakt_act(sandbox, lambda at: rate_on_trakt(sandbox, token, MATRIX, 6, at))
    trakt_act(sandbox, lambda at: rate_on_trakt(sandbox, token, INCEPTION, 9, at))
    trakt_act(sandbox, lambda _: unrate_on_trakt(sandbox, token, FIGHT_CLUB))
    rate_on_host(host_app, USER, CASABLANCA, 5, sandbox_now(sandbox))
    sandbox.advance_clock(2)
    trakt_queue(host_app).empty()  # the sync below stands in for the hook's push
    with host_app.app_context():
        job_id = jobs.enqueue_user_sync(uid, "crash test")

    kill_worker_inside(host_app, host_config, sandbox, tmp_path / "killed", method, path)
    if method == "POST":  # the host was written before Trakt: the ledger was not
        assert values(host_ratings(host_app, USER)) == {MATRIX: 6, INCEPTION: 9, CASABLANCA: 5}
        assert plugin_rows(host_app, USER)[0] == {f"h:{item_id(host_app, FIGHT_CLUB)}": 9}

    sandbox.advance_clock(2)
    with host_app.app_context():
        job_id = jobs.enqueue_user_sync(uid, "crash test, again")
    result = run_again(host_app, host_config, tmp_path / "again", job_id)
    assert result["status"] == "synced"
    assert_settled(host_app, sandbox, uid, {MATRIX: 6, INCEPTION: 9, CASABLANCA: 5})

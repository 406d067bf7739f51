"""Faults that hit a job *while it runs* in a real worker (issue #6): Redis restarting under
a job that waits on Trakt, a worker killed with SIGKILL in the middle of a retry cycle,
and a write whose answer comes too late although Trakt carried it out.

``test_faults.py`` covers each status, the timeout of a read and Redis being down between
jobs; ``test_sync_crash.py`` covers kill -9 of a healthy push or pull. What is left is
the overlap: the fault and the running job at once. "While it runs" is made reliable as
in ``test_sync_crash.py``: one sandbox call is answered late (``delay_ms``), and the
fault happens once the sandbox has taken that call (its fault is spent). The sandbox
still carries the call out after the delay, as Trakt would for a client that vanished.

After each fault the test lets recovery happen the way it would in production (the
running worker, rq-scheduler's retry, RQ's abandoned-job handling, the next scheduled
``sync-trakt-ratings``) and then asserts the outcome where it lands: both sides equal
with the same times, the outbox empty, and a reason a person can read for every failure
(the connection's ``last_error`` / the diagnosis headline, RQ's failure result).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq_scheduler import Scheduler

from aperture_trakt_plugin.queueing import scheduling
from aperture_trakt_plugin.usecases import diagnosis, jobs
from harness.services import ManagedProcess, RedisServer
from harness.trakt_sandbox.control_client import SandboxControl
from tests.connect_helpers import connection
from tests.fixtures_host import start_worker, wait_for_workers
from tests.integration import test_faults
from tests.integration.test_faults import (
    ACTIVITIES,
    FAST_RETRIES,
    TRAKT_USER,
    USER,
    redis,
    wait_for,
    waiting_retries,
)
from tests.sync_helpers import (
    CASABLANCA,
    INCEPTION,
    MATRIX,
    host_ratings,
    plugin_rows,
    rate_on_host,
    sandbox_now,
    trakt_ratings,
    values,
)

pytestmark = [pytest.mark.trakt]

# test_faults.py's fixtures, shared rather than copied: alice connected and in sync
# (Inception at 7 on both sides), the real worker, and a real rqscheduler (1 s interval).
alice = test_faults.alice
worker = test_faults.worker
scheduler = test_faults.scheduler

DELAY_MS = 3000  # how long the call the fault happens inside stays unanswered
RATINGS = "/sync/ratings"
SYNC_ALL_ENTRY = scheduling.SCHEDULE_ID.format(name=jobs.SYNC_ALL)


def faults_left(sandbox: SandboxControl) -> list[dict[str, Any]]:
    """The sandbox's unspent faults: empty once the slowed call has been taken."""
    return sandbox.http.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()


def wait_until_taken(sandbox: SandboxControl, process: ManagedProcess, what: str) -> None:
    """Until the worker's call has reached the sandbox and sits in its delay."""

    def taken() -> bool:
        assert process.alive(), process.output()[-3000:]
        return not faults_left(sandbox)

    wait_for(taken, 20, what, process)


def headline(host_app: Flask, uid: int) -> str:
    """What the profile's "why didn't this sync?" line says to the user right now."""
    with host_app.app_context():
        return diagnosis.diagnose(uid).headline


def assert_settled(host_app: Flask, sandbox: SandboxControl, expected: dict[int, int]) -> None:
    """Both sides hold ``expected`` with the same times (nothing re-dated), the ledger
    agrees, and the outbox keeps nothing (nothing lost, nothing left to send twice)."""
    host, trakt = host_ratings(host_app, USER), trakt_ratings(sandbox, TRAKT_USER)
    assert values(host) == values(trakt) == expected
    assert {m: r[1] for m, r in host.items()} == {m: r[1] for m, r in trakt.items()}
    ledger, outbox = plugin_rows(host_app, USER)
    assert outbox == 0 and sorted(ledger.values()) == sorted(expected.values()), ledger


def rating_posts(sandbox: SandboxControl) -> int:
    """How many rating writes reached Trakt (a duplicate write would show here)."""
    return len(sandbox.requests(method="POST", path=RATINGS))


# --- Redis restarting under a running job ----------------------------------------------------


def test_a_redis_restart_while_a_push_waits_on_trakt_loses_nothing(
    alice: int,
    worker: ManagedProcess,
    host_app: Flask,
    redis_server: RedisServer,
    sandbox: SandboxControl,
) -> None:
    """The push is inside its POST (answered 3 s late) when Redis goes away and comes
    back empty (the suite's Redis keeps nothing on disk, the harsher case: the job's hash,
    its lock and the worker's registration are all gone). The job must still finish its
    database writes, the worker must survive and take the next job, and the rating must
    be on both sides exactly once."""
    sandbox.fault("POST", RATINGS, delay_ms=DELAY_MS)
    rate_on_host(host_app, USER, MATRIX, 8, sandbox_now(sandbox))  # queues the push
    wait_until_taken(sandbox, worker, "the push's POST reaching Trakt")

    redis_server.restart()
    assert redis(host_app).dbsize() == 0  # nothing of the running job survived in Redis

    wait_for(
        lambda: plugin_rows(host_app, USER)[1] == 0,
        10,
        "the push finishing after the restart",
        worker,
    )
    assert_settled(host_app, sandbox, {INCEPTION: 7, MATRIX: 8})
    assert rating_posts(sandbox) == 1
    assert worker.alive(), worker.output()[-3000:]
    # Its lock vanished with Redis; the job says so in the worker's log instead of failing.
    wait_for(
        lambda: "expired before it was released" in worker.output(),
        5,
        "the lost lock reported",
        worker,
    )
    assert connection(host_app, USER).last_error is None

    # The same worker takes the next job from the restarted Redis.
    sandbox.advance_clock(2)
    rate_on_host(host_app, USER, CASABLANCA, 5, sandbox_now(sandbox))
    wait_for(
        lambda: CASABLANCA in trakt_ratings(sandbox, TRAKT_USER),
        10,
        "the next push reaching Trakt",
        worker,
    )
    wait_for(lambda: plugin_rows(host_app, USER)[1] == 0, 5, "the outbox empty", worker)
    assert_settled(host_app, sandbox, {INCEPTION: 7, MATRIX: 8, CASABLANCA: 5})
    assert rating_posts(sandbox) == 2
    assert headline(host_app, alice).startswith("In sync; next run at ")


# --- kill -9 in the middle of a retry cycle --------------------------------------------------


@pytest.mark.parametrize("host_config", [{"APERTURE_TRAKT_RETRY_DELAYS": "[2, 2]"}], indirect=True)
def test_a_worker_killed_during_the_retry_of_a_503_loses_nothing(
    alice: int,
    worker: ManagedProcess,
    scheduler: ManagedProcess,
    host_app: Flask,
    host_config: dict[str, Any],
    sandbox: SandboxControl,
    tmp_path: Path,
) -> None:
    """A push meets a 503 and schedules its retry; the retry runs and is killed with
    SIGKILL while its write is in flight, so no retry follows it. The reason stays on the
    connection, RQ's abandoned-job handling names the kill, and the next scheduled sync
    (which the outbox is kept for) finishes the work in a new worker: the landed write is
    recognised, not sent again."""
    sandbox.fault(
        "GET",
        ACTIVITIES,
        503,
        count=3,  # past the quick retries
        body={"error": "service unavailable"},
    )
    sandbox.fault("POST", RATINGS, delay_ms=DELAY_MS)
    rate_on_host(host_app, USER, MATRIX, 8, sandbox_now(sandbox))  # queues the push
    push_id = jobs.USER_JOB.format(kind="push", user_id=alice)
    retry_id = push_id + "-retry"

    wait_for(lambda: waiting_retries(host_app, push_id), 10, "the retry scheduled", worker)
    reason = wait_for(lambda: connection(host_app, USER).last_error, 5, "the 503 recorded", worker)
    assert (
        reason.startswith("GET /sync/last_activities: Trakt is having trouble (503)")
        and "(tries again at " in reason
    ), reason
    assert headline(host_app, alice).startswith("Retrying after an error at ")
    assert "Trakt is having trouble (503)" in headline(host_app, alice)

    wait_until_taken(sandbox, worker, "the retry's POST reaching Trakt")
    retry = Job.fetch(retry_id, connection=redis(host_app))
    assert retry.get_status() == JobStatus.STARTED and retry.meta["attempt"] == 1
    assert retry.meta["reason"].startswith(
        "GET /sync/last_activities: Trakt is having trouble (503)"
    ), retry.meta
    worker.kill()
    assert not worker.alive()

    landed = {INCEPTION: 7, MATRIX: 8}  # the dead worker's write, carried out late
    wait_for(lambda: values(trakt_ratings(sandbox, TRAKT_USER)) == landed, 10, "the write")
    assert plugin_rows(host_app, USER)[1] == 1  # the host never heard back: still pending
    assert waiting_retries(host_app, push_id) == {}  # the killed retry scheduled no other
    # Until something runs, the person still reads why the rating has not synced, and
    # no longer a retry time that will never come.
    stale = headline(host_app, alice)
    assert "Trakt is having trouble (503)" in stale and "(tries again at " not in stale
    assert stale.endswith(
        "its retry did not run (the worker stopped), so the next scheduled sync tries again"
    ), stale

    # RQ's abandoned-job handling, as a worker's maintenance runs it once the dead job's
    # heartbeat (its timeout plus 60 s) has run out: the job fails with the reason.
    registry = StartedJobRegistry("trakt", connection=redis(host_app))
    assert registry.get_job_ids(cleanup=False) == [retry_id]
    registry.cleanup(timestamp=time.time() + retry.timeout + 61)
    assert retry.get_status(refresh=True) == JobStatus.FAILED
    failure = retry.latest_result()
    assert failure is not None and "AbandonedJobError" in (failure.exc_string or ""), failure

    # The next scheduled sync comes due: the running rqscheduler enqueues it (and sets
    # the entry's next cron time), a new worker runs it. It waits out the dead worker's
    # lock (at most sync.lock.LOCK_TIMEOUT s) and finishes the push.
    replacement = start_worker(host_app, host_config, tmp_path / "after")
    try:
        wait_for_workers(host_app, replacement)
        redis(host_app).zadd(Scheduler.scheduled_jobs_key, {SYNC_ALL_ENTRY: time.time()})
        wait_for(
            lambda: plugin_rows(host_app, USER)[1] == 0,
            18,
            "the scheduled sync finishing the push",
            replacement,
        )
        wait_for(
            lambda: connection(host_app, USER).last_error is None,
            5,
            "the error cleared",
            replacement,
        )
    finally:
        replacement.stop()
    assert_settled(host_app, sandbox, landed)
    assert rating_posts(sandbox) == 1  # the landed write was recognised, not sent again
    due = redis(host_app).zscore(Scheduler.scheduled_jobs_key, SYNC_ALL_ENTRY)
    assert due is not None and due > time.time()  # the schedule goes on
    assert headline(host_app, alice).startswith("In sync; next run at ")
    assert scheduler.alive(), scheduler.output()[-2000:]


# --- a write answered too late, though Trakt carried it out ----------------------------------


@pytest.mark.parametrize(
    "host_config", [{**FAST_RETRIES, "APERTURE_TRAKT_RETRY_DELAYS": "[4]"}], indirect=True
)
def test_a_write_that_timed_out_but_landed_is_not_sent_twice(
    alice: int,
    worker: ManagedProcess,
    scheduler: ManagedProcess,
    host_app: Flask,
    sandbox: SandboxControl,
) -> None:
    """The read timeout is covered in ``test_faults.py``; a write is the harder case:
    Trakt answers after the client gave up (1.1 s: 1 s and 0.1 s for its one item) but
    keeps the rating. The push records
    the timeout and retries; the retry must see the rating already there and agree,
    not write it again or re-date it. (The retry comes 3 to 5 s after the timeout, so
    always after the write has landed at 2.5 s.)"""
    sandbox.fault("POST", RATINGS, delay_ms=2500)
    at = sandbox_now(sandbox)
    rate_on_host(host_app, USER, MATRIX, 8, at)  # queues the push
    push_id = jobs.USER_JOB.format(kind="push", user_id=alice)

    wait_for(lambda: waiting_retries(host_app, push_id), 10, "the retry scheduled", worker)
    reason = wait_for(
        lambda: connection(host_app, USER).last_error, 5, "the timeout recorded", worker
    )
    assert (
        reason.startswith("POST /sync/ratings: Trakt did not answer within 1.1 s")
        and "(tries again at " in reason
    ), reason
    assert "Trakt did not answer within 1.1 s" in headline(host_app, alice)
    assert plugin_rows(host_app, USER)[1] == 1

    wait_for(lambda: MATRIX in trakt_ratings(sandbox, TRAKT_USER), 5, "the late write")
    wait_for(lambda: plugin_rows(host_app, USER)[1] == 0, 15, "the retry settling", worker)
    wait_for(lambda: connection(host_app, USER).last_error is None, 5, "the error cleared", worker)
    assert_settled(host_app, sandbox, {INCEPTION: 7, MATRIX: 8})
    assert trakt_ratings(sandbox, TRAKT_USER)[MATRIX][1] == at
    assert rating_posts(sandbox) == 1
    assert waiting_retries(host_app, push_id) == {}
    assert headline(host_app, alice).startswith("In sync; next run at ")

"""A sync job that must wait for Trakt's write spacing carries the next queued users'
syncs in the same worker (``carrier``): no push job, no second read of Trakt's marker,
every user's ratings on both sides, and the carried jobs end in RQ as if a worker had
taken them. A carrier killed half-way leaves its jobs to RQ's abandoned-job cleanup.
"""

from __future__ import annotations

import time

import pytest
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.queueing import retries
from aperture_trakt_plugin.sync import store, writes
from aperture_trakt_plugin.trakt.errors import AccountLocked, TraktServerError
from aperture_trakt_plugin.usecases import carrier, jobs
from tests.connect_helpers import connect_with_tokens, run_trakt_jobs, trakt_queue, user_id
from tests.sync_helpers import (
    CASABLANCA,
    FIGHT_CLUB,
    INCEPTION,
    MATRIX,
    fresh_connection,
    host_ratings,
    plugin_rows,
    rate_on_host,
    sandbox_now,
    trakt_ratings,
    values,
)

pytestmark = [pytest.mark.trakt]


def redis(host_app):
    return host_app.extensions["aperture_host"].redis


@pytest.fixture()
def two_users(host_app, sandbox, monkeypatch):
    """Alice and Bob with two ratings each to send, a batch a write: each first sync
    needs two POSTs a second apart. Nothing queued yet."""
    monkeypatch.setattr(writes, "BATCH", 1)
    alice = fresh_connection(host_app, sandbox, "alice", "alice_trakt")
    at = sandbox_now(sandbox)
    rate_on_host(host_app, "alice", MATRIX, 8, at)
    rate_on_host(host_app, "alice", FIGHT_CLUB, 6, at)
    connect_with_tokens(host_app, sandbox, "bob", "bob_trakt")
    rate_on_host(host_app, "bob", INCEPTION, 9, at)
    rate_on_host(host_app, "bob", CASABLANCA, 5, at)
    trakt_queue(host_app).empty()  # the hooks' push and Bob's first sync: queued below
    sandbox.clear_requests()
    return alice, user_id(host_app, "bob")


def test_a_waiting_sync_carries_the_next_users_sync_instead_of_a_push(
    two_users, host_app, sandbox, caplog
):
    alice, bob = two_users
    with host_app.app_context():
        ids = [jobs.enqueue_user_sync(uid, "test") for uid in (alice, bob)]
    with caplog.at_level("INFO", logger="aperture_trakt_plugin.runs"):
        run_trakt_jobs(host_app)

    first, second = (Job.fetch(job_id, connection=redis(host_app)) for job_id in ids)
    assert first.get_status() == second.get_status() == JobStatus.FINISHED
    for job in (first, second):
        result = job.return_value()
        assert (result["status"], result["pushed"], result["deferred"]) == ("synced", 2, 0), result
    assert not any(
        Job.exists(jobs.user_job_id("push", uid), connection=redis(host_app))
        for uid in (alice, bob)
    )
    assert (
        values(trakt_ratings(sandbox, "alice_trakt"))
        == values(host_ratings(host_app, "alice"))
        == {MATRIX: 8, FIGHT_CLUB: 6}
    )
    assert (
        values(trakt_ratings(sandbox, "bob_trakt"))
        == values(host_ratings(host_app, "bob"))
        == {INCEPTION: 9, CASABLANCA: 5}
    )
    assert plugin_rows(host_app, "alice")[1] == plugin_rows(host_app, "bob")[1] == 0

    # Bob's first write went while Alice waited for her second; each user read Trakt's
    # marker once before and once after, as a run alone does.
    log = sandbox.requests()
    posts = [entry["user"] for entry in log if entry["method"] == "POST"]
    assert posts == ["alice_trakt", "bob_trakt", "alice_trakt", "bob_trakt"], posts
    for user in ("alice_trakt", "bob_trakt"):
        marker_reads = [
            e for e in log if e["user"] == user and e["path"].endswith("/sync/last_activities")
        ]
        assert len(marker_reads) == 2, (user, marker_reads)
    runs = [r.trakt_run for r in caplog.records if r.name == "aperture_trakt_plugin.runs"]
    assert sorted((r["user"], r["outcome"], r["deferred"]) for r in runs) == [
        (alice, "synced", 0),
        (bob, "synced", 0),
    ]


@pytest.mark.parametrize("error", [TraktServerError, AccountLocked])
def test_a_carried_run_that_fails_ends_its_own_job_as_a_worker_would(
    error, two_users, host_app, sandbox, monkeypatch
):
    """Bob's first write fails inside Alice's job: a passing fault reschedules Bob's job
    (its retry under his job's id), a refusal fails it with the reason on his connection;
    Alice's run goes on either way."""
    alice, bob = two_users
    write = sync.TraktSide.write

    def failing(self, entries, remove):
        if self.user_id == bob:
            raise error("POST /sync/ratings: refused for the test", status=503)
        return write(self, entries, remove)

    monkeypatch.setattr(sync.TraktSide, "write", failing)
    with host_app.app_context():
        ids = [jobs.enqueue_user_sync(uid, "test") for uid in (alice, bob)]
    run_trakt_jobs(host_app)

    own, carried = (Job.fetch(job_id, connection=redis(host_app)) for job_id in ids)
    assert own.get_status() == JobStatus.FINISHED
    # Alice waited for her second write with Bob queued, yet left nothing to a push:
    # Bob's run went on inside her job.
    assert (own.return_value()["pushed"], own.return_value()["deferred"]) == (2, 0)
    assert not Job.exists(jobs.user_job_id("push", alice), connection=redis(host_app))
    assert values(trakt_ratings(sandbox, "alice_trakt")) == {MATRIX: 8, FIGHT_CLUB: 6}
    with host_app.app_context():
        waiting = retries.scheduled_at([carried.id])
        conn = store.connection(bob)
        assert "refused for the test" in (conn.last_error or "")
    if error.retryable:
        assert carried.get_status() == JobStatus.FINISHED
        assert carried.return_value()["status"] == "rescheduled"
        assert list(waiting) == [retries.retry_id(carried.id)]
    else:
        assert carried.get_status() == JobStatus.FAILED
        assert carried.id in FailedJobRegistry(queue=trakt_queue(host_app))
        assert "AccountLocked" in carried.latest_result().exc_string
        assert waiting == {}


def test_a_killed_carrier_leaves_its_jobs_to_rq_and_blocks_no_later_request(two_users, host_app):
    """The claim takes the job off the queue and marks it started in one step; with the
    carrier gone, RQ's cleanup fails the job, and a new request queues a fresh one."""
    alice, bob = two_users
    with host_app.app_context():
        own_id = jobs.enqueue_user_sync(alice, "test")
        bob_id = jobs.enqueue_user_sync(bob, "test")
        queue = trakt_queue(host_app)
        queue.remove(own_id)  # the carrier's own job, "taken by a worker"
        own = Job.fetch(own_id, connection=redis(host_app))
        own.worker_name = "killed-worker"
        taken = carrier.Carrier(own, jobs._carried)._take_next()
        assert taken is not None and taken.job.id == bob_id
        taken.steps.close()  # the worker dies: the run never started

        claimed = Job.fetch(bob_id, connection=redis(host_app))
        assert claimed.get_status() == JobStatus.STARTED and queue.count == 0
        # Meanwhile a new request for Bob waits for that run: a follow-up is queued.
        assert jobs.enqueue_user_sync(bob, "again") == jobs.FOLLOW_UP.format(job_id=bob_id)
        queue.empty()

        StartedJobRegistry(queue=queue).cleanup(time.time() + carrier.CLAIM_TTL + 1)
        assert Job.fetch(bob_id, connection=redis(host_app)).get_status() == JobStatus.FAILED
        assert jobs.enqueue_user_sync(bob, "later") == bob_id
        assert queue.job_ids == [bob_id]

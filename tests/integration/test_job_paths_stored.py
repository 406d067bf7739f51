"""A job queued by an older release still runs after an upgrade (issue 16).

RQ stores the function of a queued job as a dotted string in Redis, and rq-scheduler does
the same in its schedule; a worker of the new release imports that string when it takes
the job. Here the strings an older release stored are put on the real queue as they
are, and a real worker runs them: the rating reaches Trakt, the schedule's job runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.connect_helpers import run_trakt_jobs, trakt_queue
from tests.sync_helpers import INCEPTION, fresh_connection, rate_on_host, trakt_ratings
from tests.unit.test_job_paths import OLD_JOB_PATHS

pytestmark = [pytest.mark.trakt]

USER, TRAKT_USER = "alice", "alice_trakt"


def test_a_push_queued_by_its_old_dotted_path_reaches_trakt(host_app, sandbox):
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    rate_on_host(host_app, USER, INCEPTION, 8, datetime.now(UTC).replace(microsecond=0))
    queue = trakt_queue(host_app)
    queue.empty()  # what the rating queued is gone: only the stored string remains
    old = "aperture_trakt_plugin.jobs.push_user"
    assert old in OLD_JOB_PATHS
    job = queue.enqueue(old, uid, job_id="stored-by-an-older-release")
    run_trakt_jobs(host_app)
    job.refresh()
    assert job.get_status() == "finished", job.exc_info
    assert trakt_ratings(sandbox, TRAKT_USER)[INCEPTION][0] == 8


@pytest.mark.parametrize(
    "path",
    [
        "aperture_trakt_plugin.jobs.run_sync_all",
        "aperture_trakt_plugin.discovery.refresh.run_refresh",
    ],
)
def test_a_scheduled_job_stored_by_its_old_path_runs(host_app, sandbox, path):
    fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    queue = trakt_queue(host_app)
    job = queue.enqueue(path, None, job_id="scheduled-by-an-older-release")
    run_trakt_jobs(host_app)
    job.refresh()
    assert job.get_status() == "finished", job.exc_info

"""The job entry points under the dotted paths releases before the layered layout
stored in Redis and in rq-scheduler's schedule (``aperture_trakt_plugin.jobs.*``). A
job queued by such a release runs after the upgrade through these names; new jobs are
queued under ``aperture_trakt_plugin.usecases.jobs``. Never remove a name here
(``tests/unit/test_job_paths.py``)."""

from aperture_trakt_plugin.usecases.jobs import (
    library_arrivals,
    push_user,
    run_sync_all,
    sync_user,
)

__all__ = ["library_arrivals", "push_user", "run_sync_all", "sync_user"]

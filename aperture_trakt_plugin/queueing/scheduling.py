"""The plugin's schedules in rq-scheduler, reconciled rather than appended.

Each job has one fixed scheduler id, so saving a schedule again (or starting another
process, which reconciles at setup) replaces the entry instead of adding a second one;
an unchanged cron keeps its entry, and with it its next run time.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError
from rq_scheduler import Scheduler
from sqlalchemy.exc import SQLAlchemyError

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.host import JobDefinition, JobSchedule

log = logging.getLogger(__name__)


SCHEDULE_ID = "aperture-trakt-schedule-{name}"
#: How often each process re-checks rq-scheduler's entries (see ``keep_scheduled``).
CHECK_EVERY = 300.0
#: Seconds a scheduled run's result stays in Redis (rq-scheduler keeps it forever by
#: default); the host's run log is where a run is read afterwards.
RESULT_TTL = 7 * 86400
_next_check = 0.0


#: The discovery refresh's job (``discovery.refresh.run_refresh``): named here, in the one
#: table of the plugin's scheduled jobs, so that the table imports no job it schedules.
REFRESH_JOB = "refresh-trakt-discovery"
REFRESH_FUNC = "aperture_trakt_plugin.discovery.refresh.run_refresh"
REFRESH_CRON = "30 */6 * * *"  # four times a day, off the hour the rating sync runs at


def definitions() -> list[JobDefinition]:
    """Every job the plugin schedules, as the host's Admin → Jobs screen lists them."""
    from flask import current_app

    queue = current_app.config["APERTURE_TRAKT_QUEUE"]
    return [
        JobDefinition(
            name="sync-trakt-ratings",
            label="Sync Trakt ratings",
            description=(
                "Two-way rating sync of every connected user: Trakt's changes come "
                "here, this server's go to Trakt, the newest wins. Users whose Trakt "
                "has not changed cost one call."
            ),
            func="aperture_trakt_plugin.usecases.jobs.run_sync_all",
            default_cron="0 */2 * * *",
            queue=queue,
            timeout=3600,
        ),
        JobDefinition(
            name=REFRESH_JOB,
            label="Refresh Trakt discovery",
            description=(
                "Fetches Trakt's trending and popular titles for the server, and each "
                "connected user's recommendations, watchlist and watch history; then "
                "ranks them for every user. Discovery pages only read what this stores."
            ),
            func=REFRESH_FUNC,
            default_cron=REFRESH_CRON,
            queue=queue,
            timeout=3600,
        ),
    ]


def saved_schedule(job: JobDefinition, saved: dict[str, JobSchedule]) -> tuple[str | None, bool]:
    """The cron and on/off state a job should have: the admin's, else the default."""
    mine = saved.get(job.name)
    return (mine.cron, mine.enabled) if mine else (job.default_cron, True)


def keep_scheduled() -> None:
    """Reconciles at most every ``CHECK_EVERY`` seconds per process (called on requests
    and at the start of jobs). A Redis restarted without persistence comes back empty:
    without this, the schedules stayed gone until some process restarted, and ratings
    waiting in the outbox with them. A reconcile of an unchanged schedule changes
    nothing, so the check is only a few reads."""
    global _next_check
    now = time.monotonic()
    if now < _next_check:
        return
    _next_check = now + CHECK_EVERY
    reconcile()


def reconcile(
    name: str | None = None, cron: str | None = None, enabled: bool | None = None
) -> None:
    """Makes rq-scheduler hold exactly the saved (or default) schedule of our jobs."""
    host = extension.state().host
    try:
        saved = host.job_schedules()
        scheduler = Scheduler(connection=host.redis)
        entries = {job.id: job for job in scheduler.get_jobs()}
        for job in definitions():
            if name is not None and job.name != name:
                continue
            want_cron, want_on = (cron, enabled) if name else saved_schedule(job, saved)
            job_id = SCHEDULE_ID.format(name=job.name)
            current = entries.get(job_id)
            if (
                current is not None
                and want_on
                and current.origin == job.queue
                and current.meta.get("cron_string") == want_cron
            ):
                continue  # unchanged: keeps its next run time
            if current is not None:
                scheduler.cancel(current)
                current.delete()
            if want_on and want_cron:
                scheduler.cron(
                    want_cron,
                    func=job.func,
                    args=[None],
                    id=job_id,
                    queue_name=job.queue,
                    timeout=job.timeout,
                    result_ttl=RESULT_TTL,
                    use_local_timezone=False,
                )
    except (RedisError, SQLAlchemyError) as exc:
        log.warning(
            "could not update the Trakt job schedules (%s); they will be updated "
            "when the next process starts",
            type(exc).__name__,
        )

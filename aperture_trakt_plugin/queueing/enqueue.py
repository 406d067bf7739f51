"""How the plugin's jobs are queued and cancelled: fixed per-user job ids, queue once.

Per-user jobs have fixed ids, which makes enqueueing idempotent (a user's sync or push is
queued at most once, plus one follow-up while it runs) and cancelling on disconnect
exact. A queueing primitive, below every job that uses it: the rating sync's entry
points (``jobs``) and discovery's (``discovery.refresh``, ``discovery.hide``) alike.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.queueing import retries

log = logging.getLogger(__name__)

USER_JOB = "aperture-trakt-{kind}-user-{user_id}"  # RQ ids: [A-Za-z0-9_-]
FOLLOW_UP = "{job_id}-next"
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


#: Kinds of per-user job: the rating sync's, and discovery's (its lists, its hides).
SYNC_KINDS = ("sync", "push")
ALL_KINDS = (*SYNC_KINDS, "discovery", "hide")


def user_job_id(kind: str, user_id: int) -> str:
    return USER_JOB.format(kind=kind, user_id=user_id)


def user_job_ids(user_id: int, kinds: tuple[str, ...] = SYNC_KINDS) -> list[str]:
    """The user's fixed job ids of these kinds, with their follow-ups (the rating sync's
    by default: what its status view reads)."""
    ids = [user_job_id(kind, user_id) for kind in kinds]
    return ids + [FOLLOW_UP.format(job_id=job_id) for job_id in ids]


def _status(job_id: str, redis: Any) -> JobStatus | None:
    try:
        return Job.fetch(job_id, connection=redis).get_status()
    except NoSuchJobError:
        return None


def enqueue_once(func: str, job_id: str, *args: Any, description: str) -> str | None:
    """Queues once: a waiting job with this id already covers the new request; a running
    one gets one follow-up (it waits on the user's lock), so no change is left behind."""
    host = extension.state().host
    try:
        status = _status(job_id, host.redis)
        if status in WAITING:
            return job_id
        if status is JobStatus.STARTED:
            job_id = FOLLOW_UP.format(job_id=job_id)
            if _status(job_id, host.redis) in WAITING | {JobStatus.STARTED}:
                return job_id
        host.queue(current_app.config["APERTURE_TRAKT_QUEUE"]).enqueue(
            func,
            *args,
            job_id=job_id,
            description=description,
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )
    except RedisError as exc:
        log.warning(
            "could not queue %s (%s): the next scheduled sync will do it",
            job_id,
            type(exc).__name__,
        )
        return None
    return job_id


def cancel_user_jobs(user_id: int) -> int:
    """Cancels the user's queued Trakt jobs; a running one finds the connection gone."""
    redis = extension.state().host.redis
    cancelled = 0
    try:
        cancelled += retries.cancel(user_job_ids(user_id, ALL_KINDS))
    except RedisError as exc:
        log.warning(
            "could not cancel the Trakt retries of user %s (%s); they will find the "
            "connection gone and stop",
            user_id,
            type(exc).__name__,
        )
    for job_id in user_job_ids(user_id, ALL_KINDS):
        try:
            job = Job.fetch(job_id, connection=redis)
        except NoSuchJobError:
            continue
        except RedisError as exc:
            log.warning(
                "could not cancel the Trakt jobs of user %s (%s); they will find the "
                "connection gone and stop",
                user_id,
                type(exc).__name__,
            )
            return cancelled
        status = job.get_status()
        if status == JobStatus.STARTED:
            continue  # it finds the connection gone and stops; deleting it would orphan it
        if status in WAITING:
            job.cancel()
            cancelled += 1
        job.delete()
    return cancelled

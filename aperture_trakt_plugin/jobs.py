"""RQ entry points of the plugin, and how they are queued and cancelled.

Entry points take primitives only (ids), so a job never carries a stale object or a
secret into Redis. Per-user jobs have fixed ids, which makes enqueueing idempotent
(a user's sync is queued at most once) and cancelling on disconnect exact.
"""

from __future__ import annotations

import json
import logging

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from aperture_trakt_plugin import extension, tokens
from aperture_trakt_plugin.models import utcnow
from aperture_trakt_plugin.oauth import api_client
from aperture_trakt_plugin.trakt_api import TraktError

log = logging.getLogger(__name__)

USER_SYNC_JOB = "aperture-trakt-sync-user-{user_id}"  # RQ ids: [A-Za-z0-9_-]
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
# A running job keeps its id until it ends: a new one with that id would overwrite it.
ACTIVE = WAITING | {JobStatus.STARTED}


def user_job_ids(user_id: int) -> list[str]:
    return [USER_SYNC_JOB.format(user_id=user_id)]


def enqueue_user_sync(user_id: int, reason: str) -> str | None:
    """Queues one sync of the user; ``None`` when Redis is down (the next scheduled run
    catches up, so connecting never fails because of the queue)."""
    host = extension.state().host
    job_id = USER_SYNC_JOB.format(user_id=user_id)
    try:
        try:
            if Job.fetch(job_id, connection=host.redis).get_status() in ACTIVE:
                return job_id
        except NoSuchJobError:
            pass
        host.queue(current_app.config["APERTURE_TRAKT_QUEUE"]).enqueue(
            "aperture_trakt_plugin.jobs.sync_user", user_id, job_id=job_id,
            description=f"Trakt sync of user {user_id}: {reason}", result_ttl=3600,
            failure_ttl=7 * 86400)
    except RedisError as exc:
        log.warning("could not queue the Trakt sync of user %s (%s): the next scheduled run "
                    "will do it", user_id, type(exc).__name__)
        return None
    return job_id


def cancel_user_jobs(user_id: int) -> int:
    """Cancels the user's queued Trakt jobs; a running one finds the connection gone."""
    redis = extension.state().host.redis
    cancelled = 0
    for job_id in user_job_ids(user_id):
        try:
            job = Job.fetch(job_id, connection=redis)
        except NoSuchJobError:
            continue
        except RedisError as exc:
            log.warning("could not cancel the Trakt jobs of user %s (%s); they will find the "
                        "connection gone and stop", user_id, type(exc).__name__)
            return cancelled
        status = job.get_status()
        if status == JobStatus.STARTED:
            continue  # it finds the connection gone and stops; deleting it would orphan it
        if status in WAITING:
            job.cancel()
            cancelled += 1
        job.delete()
    return cancelled


def sync_user(user_id: int) -> dict:
    """One user's sync. For now it reads what changed on Trakt (``last_activities``);
    the two-way rating merge builds on this read."""
    token_store = tokens.store()
    conn = token_store.get(user_id)
    if conn is None:
        return {"user_id": user_id, "skipped": "not connected"}
    if conn.needs_reconnect:
        return {"user_id": user_id, "skipped": "needs reconnecting"}
    client = api_client()
    try:
        activities = tokens.call_as_user(
            user_id, lambda token: client.get_json("/sync/last_activities", token=token))
    except tokens.NeedsReconnect:
        return {"user_id": user_id, "skipped": "needs reconnecting"}
    except TraktError as exc:
        conn.last_error, conn.last_error_at = str(exc), utcnow()
        token_store.db.session.commit()
        raise
    conn.last_activities = json.dumps(activities)
    conn.last_sync_at = utcnow()
    conn.last_error = conn.last_error_at = None
    token_store.db.session.commit()
    return {"user_id": user_id, "last_activities": activities.get("all")}

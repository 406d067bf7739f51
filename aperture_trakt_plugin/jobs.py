"""RQ entry points of the plugin, and how they are queued and cancelled.

Entry points take primitives only (ids), so a job never carries a stale object or a
secret into Redis. Per-user jobs have fixed ids, which makes enqueueing idempotent
(a user's sync or push is queued at most once, plus one follow-up while it runs) and
cancelling on disconnect exact.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from aperture_trakt_plugin import (
    carrier,
    extension,
    oauth,
    retries,
    runlog,
    scheduling,
    sync,
    tokens,
)
from aperture_trakt_plugin.models import TraktConnection, TraktLedger, utcnow
from aperture_trakt_plugin.trakt_api import AccountLimit, InvalidClient, TraktError

log = logging.getLogger(__name__)

USER_JOB = "aperture-trakt-{kind}-user-{user_id}"  # RQ ids: [A-Za-z0-9_-]
FOLLOW_UP = "{job_id}-next"
SYNC_ALL = "sync-trakt-ratings"
SYNC_FUNC = "aperture_trakt_plugin.jobs.sync_user"
LIBRARY_JOB = "aperture-trakt-library-arrivals"
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}

# What the jobs say on a user's connection and in the ``sync-trakt-ratings`` run log
# (docs/troubleshooting.md).
MSG_ACCOUNT_LIMITS = "{error}. This account's limits: {limits}. Trakt VIP raises them."
MSG_SKIPPED_RECONNECT = "user {user_id}: skipped, needs reconnecting to Trakt"
MSG_QUEUED_SYNCS = "queued {queued} user sync(s); {skipped} skipped; each user's result follows"
MSG_REST_WAITS = "the rest waits for Trakt's write limit"


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
            func, *args, job_id=job_id, description=description, result_ttl=3600,
            failure_ttl=7 * 86400)
    except RedisError as exc:
        log.warning("could not queue %s (%s): the next scheduled sync will do it", job_id,
                    type(exc).__name__)
        return None
    return job_id


def user_sync_job_id(user_id: int) -> str:
    return USER_JOB.format(kind="sync", user_id=user_id)


def enqueue_user_sync(user_id: int, reason: str, run_id: int | None = None,
                      force: bool = False) -> str | None:
    return enqueue_once(SYNC_FUNC, user_sync_job_id(user_id), user_id, run_id, force,
                    description=f"Trakt sync of user {user_id}: {reason}")


def enqueue_user_push(user_id: int) -> str | None:
    return enqueue_once("aperture_trakt_plugin.jobs.push_user",
                    USER_JOB.format(kind="push", user_id=user_id), user_id,
                    description=f"Trakt push of user {user_id}")


def enqueue_library_arrivals() -> str | None:
    return enqueue_once("aperture_trakt_plugin.jobs.library_arrivals", LIBRARY_JOB,
                    description="Trakt ratings of items that arrived in the library")


def cancel_user_jobs(user_id: int) -> int:
    """Cancels the user's queued Trakt jobs; a running one finds the connection gone."""
    redis = extension.state().host.redis
    cancelled = 0
    try:
        cancelled += retries.cancel(user_job_ids(user_id, ALL_KINDS))
    except RedisError as exc:
        log.warning("could not cancel the Trakt retries of user %s (%s); they will find the "
                    "connection gone and stop", user_id, type(exc).__name__)
    for job_id in user_job_ids(user_id, ALL_KINDS):
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


# --- entry points ----------------------------------------------------------------------------


def push_user(user_id: int) -> dict:
    """Sends a user's pending rating changes to Trakt (queued by the rating hooks)."""
    return asdict(_recorded(user_id, sync.push_steps(user_id, others_waiting=others_waiting),
                            in_run=False, job="push"))


def sync_user(user_id: int, run_id: int | None = None, force: bool = False) -> dict:
    """One user's two-way sync; inside a scheduled run it writes to that run's log.
    Outside one, a wait for Trakt's write spacing is filled with other users' queued
    syncs (``carrier``)."""
    if run_id is None:
        job = get_current_job()
        own = _sync_steps(user_id, force, job)
        if job is None:
            return asdict(_drive(own))
        return asdict(carrier.carry(own, job, _carried))
    host = extension.state().host
    user = host.get_user(user_id)
    name = user.name if user else f"#{user_id}"
    with host.job_context(SYNC_ALL, run_id) as run:
        result = _recorded(user_id, sync.sync_steps(
            user_id, force=force, report=lambda line: run.log(f"{name}: {line}"),
            others_waiting=others_waiting), in_run=True, job="sync")
        run.log(f"{name}: {result.summary()}")
    return asdict(result)


def _sync_steps(user_id: int, force: bool, job: Job | None) -> sync.Steps:
    return _recorded_steps(user_id, sync.sync_steps(
        user_id, force=force, others_waiting=others_waiting), in_run=False, job="sync",
        rq_job=job)


def _carried(job: Job) -> sync.Steps | None:
    """A queued job as steps a carrier may run: a user's sync outside a scheduled run (a
    scheduled run's sync writes to that run's log, which stays one job's business)."""
    if job.func_name != SYNC_FUNC or job.kwargs or not job.args:
        return None
    user_id, run_id, force = (*job.args, None, False)[:3]
    if run_id is not None or not isinstance(user_id, int):
        return None
    if extension.state().host.redis.exists(sync.LOCK_KEY.format(user_id=user_id)):
        return None  # a run of the user is going on elsewhere: this job would wait for it
    return _sync_steps(user_id, bool(force), job)


def others_waiting() -> bool:
    """Whether other jobs wait on the Trakt queue: then a run that would sleep through
    Trakt's write spacing ends early and leaves the rest to a push queued behind them."""
    host = extension.state().host
    try:
        return host.queue(current_app.config["APERTURE_TRAKT_QUEUE"]).count > 0
    except RedisError:
        return False


def _recorded(user_id: int, steps: sync.Steps, in_run: bool, job: str) -> sync.SyncResult:
    """Runs a sync alone (see ``_recorded_steps``)."""
    return _drive(_recorded_steps(user_id, steps, in_run, job))


def _drive(steps: sync.Steps) -> sync.SyncResult:
    with sync.collector_paused():
        return sync.run_steps(steps)


def _recorded_steps(user_id: int, steps: sync.Steps, in_run: bool, job: str,
                    rq_job: Job | None = None) -> sync.Steps:
    """Runs a sync, keeping its failure on the connection where status and the profile
    show it; the outbox and the ledger keep everything for the next run. Every run ends
    with one structured log line (``runlog``), whatever its outcome. ``rq_job``: the
    job the run belongs to, when a carrier runs it for that job.

    A rate limit or a passing fault reschedules the job (``retries``) and ends it
    without error, so the worker is free at once. Anything else is final: a job on its
    own re-raises (RQ records the failure); inside a scheduled run the failure becomes a
    line of the run's log and the other users go on."""
    started = time.monotonic()
    scheduling.keep_scheduled()
    try:
        result = yield from _attempt(user_id, steps, in_run, rq_job)
    except Exception as exc:
        runlog.user_run(job, user_id, "error", started, error=type(exc).__name__)
        raise
    runlog.user_run(job, user_id, result.status, started,
                    result.api_calls if result.api_calls else None,
                    pushed=result.pushed, removed_on_trakt=result.pushed_removals,
                    pulled=result.pulled, removed_here=result.pulled_removals,
                    conflicts=result.conflict_count, not_found=result.not_found,
                    over_limit=result.over_limit, deferred=result.deferred)
    return result


def _attempt(user_id: int, steps: sync.Steps, in_run: bool, rq_job: Job | None
             ) -> sync.Steps:
    try:
        result = yield from steps
    except TraktError as exc:
        message = explain(user_id, exc)
        when = retries.reschedule(exc, rq_job)
        if when is not None:
            message = retries.MSG_TRIES_AGAIN.format(error=message,
                                                     when=f"{when:%Y-%m-%d %H:%M:%S}")
        elif exc.retryable:  # its retries are used up
            message = retries.MSG_NEXT_SYNC_TRIES_AGAIN.format(error=message)
        _remember(user_id, message, exc)
        if when is not None:
            return sync.SyncResult(user_id, status="rescheduled", message=message)
        if not in_run:
            raise
        return sync.SyncResult(user_id, status="failed", message=message)
    if result.deferred:
        _push_the_rest(user_id)
    return result


def _push_the_rest(user_id: int) -> None:
    """The writes a run left in the outbox go out in a push: queued behind the jobs that
    were waiting, or, when the user's next write is further off than a worker may sleep,
    put in rq-scheduler for that moment (no worker waits for it)."""
    budgets = extension.budgets()
    wait = budgets.write_wait(str(user_id))
    if wait <= budgets.max_sleep:
        enqueue_user_push(user_id)
        return
    retries.run_later("aperture_trakt_plugin.jobs.push_user", user_job_id("push", user_id),
                      (user_id,), current_app.config["APERTURE_TRAKT_QUEUE"],
                      wait + 0.5, MSG_REST_WAITS, rate_limited=True,
                      description=f"Trakt push of user {user_id}: the rest of a sync")


def _remember(user_id: int, message: str, exc: TraktError) -> None:
    """Where the right person sees it: the user's connection, and for a refusal of the
    app's credentials, the admin's Integrations page and jobs screen too."""
    trakt = extension.state()
    if isinstance(exc, InvalidClient):
        trakt.settings.set_credentials_problem(str(exc))
    conn = tokens.store().get(user_id)
    if conn is not None:
        conn.last_error, conn.last_error_at = message, utcnow()
        tokens.store().db.session.commit()


def explain(user_id: int, exc: TraktError) -> str:
    """The error in words for the person who can act on it; a 420 names the limits the
    account has, as ``/users/settings`` reports them."""
    if not isinstance(exc, AccountLimit):
        return str(exc)
    try:
        settings = tokens.call_as_user(user_id, lambda token: oauth.api_client().get_json(
            "/users/settings", token=token, user_key=str(user_id)))
    except TraktError:
        return str(exc)
    limits = settings.get("limits") if isinstance(settings, dict) else None
    if not isinstance(limits, dict):
        return str(exc)
    parts = []
    for name, value in limits.items():
        if isinstance(value, dict):
            counts = ", ".join(f"{key.replace('_', ' ')} {n}" for key, n in value.items())
            parts.append(f"{name}: {counts}")
    return MSG_ACCOUNT_LIMITS.format(error=exc, limits="; ".join(parts))


def run_sync_all(run_id: int | None = None) -> dict:
    """The ``sync-trakt-ratings`` job: one sync job per connected user."""
    host = extension.state().host
    with host.job_context(SYNC_ALL, run_id) as run:
        connections = host.db.session.scalars(select(TraktConnection)).all()
        queued = skipped = 0
        for conn in connections:
            if conn.needs_reconnect:
                skipped += 1
                run.log(MSG_SKIPPED_RECONNECT.format(user_id=conn.user_id))
                continue
            if enqueue_user_sync(conn.user_id, "scheduled", run.run_id):
                queued += 1
        run.log(MSG_QUEUED_SYNCS.format(queued=queued, skipped=skipped))
        return {"queued": queued, "skipped": skipped}


def library_arrivals() -> dict:
    """Applies Trakt ratings kept for items the library lacked, now that some arrived."""
    db = extension.state().host.db
    users = db.session.scalars(select(TraktLedger.user_id).where(
        TraktLedger.item_id.is_(None)).distinct()).all()
    return {str(user_id): sync.resolve_orphans(user_id) for user_id in users}

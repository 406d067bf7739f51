"""RQ entry points of the rating sync, and how each is queued.

Entry points take primitives only (ids), so a job never carries a stale object or a
secret into Redis. Job ids, queueing once and cancelling live in ``enqueue`` (below
discovery's jobs too); their names are imported here as well, where callers and tests
have always found them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import Job
from sqlalchemy import select

from aperture_trakt_plugin import extension, sync
from aperture_trakt_plugin.accounts import oauth, tokens
from aperture_trakt_plugin.discovery import refresh as discovery_refresh
from aperture_trakt_plugin.host import JobRunContext
from aperture_trakt_plugin.queueing import retries, runlog, scheduling
from aperture_trakt_plugin.queueing.enqueue import (  # noqa: F401  (re-exported: jobs.X still works)
    ALL_KINDS,
    FOLLOW_UP,
    SYNC_KINDS,
    USER_JOB,
    WAITING,
    cancel_user_jobs,
    enqueue_once,
    user_job_id,
    user_job_ids,
)
from aperture_trakt_plugin.storage.models import TraktConnection, TraktLedger, utcnow
from aperture_trakt_plugin.trakt.errors import AccountLimit, InvalidClient, TraktError
from aperture_trakt_plugin.usecases import carrier

log = logging.getLogger(__name__)

SYNC_ALL = "sync-trakt-ratings"
SYNC_FUNC = "aperture_trakt_plugin.usecases.jobs.sync_user"
LIBRARY_JOB = "aperture-trakt-library-arrivals"

# What the jobs say on a user's connection and in the ``sync-trakt-ratings`` run log
# (docs/troubleshooting.md).
MSG_ACCOUNT_LIMITS = "{error}. This account's limits: {limits}. Trakt VIP raises them."
MSG_SKIPPED_RECONNECT = "user {user_id}: skipped, needs reconnecting to Trakt"
MSG_QUEUED_SYNCS = "queued {queued} user sync(s); {skipped} skipped; each user's result follows"
MSG_REST_WAITS = "the rest waits for Trakt's write limit"


def user_sync_job_id(user_id: int) -> str:
    return USER_JOB.format(kind="sync", user_id=user_id)


def enqueue_user_sync(
    user_id: int, reason: str, run_id: int | None = None, force: bool = False
) -> str | None:
    return enqueue_once(
        SYNC_FUNC,
        user_sync_job_id(user_id),
        user_id,
        run_id,
        force,
        description=f"Trakt sync of user {user_id}: {reason}",
    )


def enqueue_user_push(user_id: int) -> str | None:
    return enqueue_once(
        "aperture_trakt_plugin.usecases.jobs.push_user",
        USER_JOB.format(kind="push", user_id=user_id),
        user_id,
        description=f"Trakt push of user {user_id}",
    )


def enqueue_library_arrivals() -> str | None:
    return enqueue_once(
        "aperture_trakt_plugin.usecases.jobs.library_arrivals",
        LIBRARY_JOB,
        description="Trakt ratings of items that arrived in the library",
    )


# --- entry points ----------------------------------------------------------------------------


def push_user(user_id: int) -> dict[str, Any]:
    """Sends a user's pending rating changes to Trakt (queued by the rating hooks)."""
    return asdict(
        _recorded(
            user_id,
            sync.push_steps(user_id, others_waiting=others_waiting),
            in_run=False,
            job="push",
        )
    )


def sync_user(user_id: int, run_id: int | None = None, force: bool = False) -> dict[str, Any]:
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
        result = _recorded(
            user_id,
            sync.sync_steps(
                user_id,
                force=force,
                report=lambda line: run.log(f"{name}: {line}"),
                others_waiting=others_waiting,
                progress=sync.Throttle(_run_progress(run, name)),
            ),
            in_run=True,
            job="sync",
        )
        run.log(f"{name}: {result.summary()}")
    return asdict(result)


def _run_progress(run: JobRunContext, name: str) -> sync.Progress:
    """A long sync's stages on the jobs screen: a line in the run's log, and the run's
    progress bar at the stage's count (with several users syncing at once, the bar
    follows whichever reported last; each user's lines say where each one is)."""

    def report(stage: str, done: int, total: int | None) -> None:
        run.log(f"{name}: {sync.describe(stage, done, total)}")
        run.progress(done, total)

    return report


def _sync_steps(user_id: int, force: bool, job: Job | None) -> sync.Steps:
    return _recorded_steps(
        user_id,
        sync.sync_steps(user_id, force=force, others_waiting=others_waiting),
        in_run=False,
        job="sync",
        rq_job=job,
    )


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


def _recorded_steps(
    user_id: int, steps: sync.Steps, in_run: bool, job: str, rq_job: Job | None = None
) -> sync.Steps:
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
    runlog.user_run(
        job,
        user_id,
        result.status,
        started,
        result.api_calls if result.api_calls else None,
        pushed=result.pushed,
        removed_on_trakt=result.pushed_removals,
        pulled=result.pulled,
        removed_here=result.pulled_removals,
        conflicts=result.conflict_count,
        not_found=result.not_found,
        over_limit=result.over_limit,
        deferred=result.deferred,
    )
    return result


def _attempt(user_id: int, steps: sync.Steps, in_run: bool, rq_job: Job | None) -> sync.Steps:
    try:
        result = yield from steps
    except TraktError as exc:
        message = explain(user_id, exc)
        when = retries.reschedule(exc, rq_job)
        if when is not None:
            message = retries.MSG_TRIES_AGAIN.format(
                error=message, when=f"{when:%Y-%m-%d %H:%M:%S}"
            )
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
    if result.pulled or result.pulled_removals:
        discovery_refresh.after_pulled_ratings(user_id)
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
    retries.run_later(
        "aperture_trakt_plugin.usecases.jobs.push_user",
        user_job_id("push", user_id),
        (user_id,),
        current_app.config["APERTURE_TRAKT_QUEUE"],
        wait + 0.5,
        MSG_REST_WAITS,
        rate_limited=True,
        description=f"Trakt push of user {user_id}: the rest of a sync",
    )


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
        settings = tokens.call_as_user(
            user_id,
            lambda token: oauth.api_client().get_json(
                "/users/settings", token=token, user_key=str(user_id)
            ),
        )
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


def run_sync_all(run_id: int | None = None) -> dict[str, Any]:
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


def library_arrivals() -> dict[str, Any]:
    """Applies Trakt ratings kept for items the library lacked, now that some arrived."""
    db = extension.state().host.db
    users = db.session.scalars(
        select(TraktLedger.user_id).where(TraktLedger.item_id.is_(None)).distinct()
    ).all()
    return {str(user_id): sync.resolve_orphans(user_id) for user_id in users}

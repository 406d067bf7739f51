"""Why a user's ratings did (or did not) sync: one answer from every place that knows.

The reasons a rating has not reached the other side are scattered: the connection row
(reconnect, last error, the mass-removal guard), the admin settings (Trakt refusing the
app), rq-scheduler (a retry waiting out a 429 or a passing fault), the host's job
schedule, the outbox (not sent yet, or unknown to Trakt) and the ledger (Trakt ratings
of titles the library lacks). :func:`diagnose` reads them all and says, in one line,
which one matters first, so the profile and the admin page never disagree. It never
raises for an unreachable Redis: the view it feeds is the one people open when
something is broken.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import crontab  # what rq-scheduler itself computes cron times with
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import func, select

from aperture_trakt_plugin import extension, sync
from aperture_trakt_plugin.accounts import tokens
from aperture_trakt_plugin.queueing import retries, scheduling
from aperture_trakt_plugin.storage.models import TraktConnection, TraktLedger, TraktOutbox
from aperture_trakt_plugin.usecases import connections, jobs

log = logging.getLogger(__name__)

ITEM_CAP = 50  # items listed per kind; the totals are always exact
TIME = "%H:%M UTC"
DATE_TIME = "%d %b %Y, %H:%M UTC"

# The headline of the "why didn't this sync?" view, one per reason, in ``_headline``'s order
# (docs/troubleshooting.md explains each). Times are ``TIME`` or ``DATE_TIME``.
MSG_NOT_CONNECTED = "Not connected to Trakt: connect your account to sync your ratings."
MSG_NEEDS_RECONNECT = "Needs reconnecting: {reason} Syncing is paused until then."
MSG_ACCESS_GONE = "Trakt no longer accepts this server's access."
MSG_APP_NEEDS_ATTENTION = (
    "The server's Trakt app needs attention; nothing syncs until an admin fixes it."
)
MSG_BLOCKED = "Blocked, awaiting an admin's confirmation: {reason}"
MSG_RATE_LIMIT_WAIT = "Waiting for Trakt's rate limit until {until}."
MSG_RETRYING = "Retrying after an error at {until}: {reason}"
MSG_RETRYING_NO_REASON = "Retrying after an error at {until}."
MSG_RETRY_LOST = (
    "{error}; its retry did not run (the worker stopped), so the next scheduled sync tries again"
)
MSG_LAST_SYNC_FAILED = "The last sync failed: {error}"
MSG_LAST_SYNC_FAILED_AT = "The last sync failed at {when}: {error}"
MSG_WAITING_FOR_ROOM = "{count} {ratings} made here {wait} for room on Trakt: {reason}."
MSG_ACCOUNT_FULL = "the account reached its ratings limit"
MSG_IN_SYNC = "In sync; next run at {when}."
MSG_IN_SYNC_UNSCHEDULED = "In sync; scheduled syncs are switched off."
MSG_NOT_SYNCED = "Not synced yet; next run at {when}."
MSG_NOT_SYNCED_UNSCHEDULED = "Not synced yet; scheduled syncs are switched off."


@dataclass(frozen=True)
class UnmatchedItem:
    """A Trakt rating kept for a title the library does not hold (applied when it arrives)."""

    kind: str
    title: str | None
    trakt: int | None
    tmdb: int | None
    imdb: str | None
    tvdb: int | None
    season: int | None
    episode: int | None
    rating: int
    rated_at: datetime


@dataclass(frozen=True)
class NotFoundItem:
    """A rating of this server's that Trakt did not recognise, kept until it changes."""

    item_id: str
    kind: str | None
    title: str | None
    ids: dict[str, Any] | None
    value: int | None
    reason: str | None


@dataclass(frozen=True)
class QueuedRetry:
    """The earliest waiting retry of the user's jobs and what it waits for."""

    at: datetime
    rate_limited: bool
    reason: str | None


@dataclass
class Diagnosis:
    """Everything the "why didn't this sync?" view shows. Never holds a token or secret."""

    user_id: int
    headline: str
    connected: bool = False
    trakt_username: str | None = None
    needs_reconnect: bool = False
    reconnect_reason: str | None = None
    last_sync_at: datetime | None = None
    last_sync: dict[str, Any] | None = None
    next_run_at: datetime | None = None
    queued: QueuedRetry | None = None
    queue_known: bool = True  # False: Redis did not answer, so waiting retries are unknown
    blocked_reason: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    credentials_problem: str | None = None  # only filled in for admins
    app_needs_attention: bool = False
    pending: int = 0
    unmatched: list[UnmatchedItem] = field(default_factory=list)
    unmatched_total: int = 0
    not_found: list[NotFoundItem] = field(default_factory=list)
    not_found_total: int = 0
    over_limit: list[NotFoundItem] = field(default_factory=list)  # waiting for room on Trakt
    over_limit_total: int = 0

    @property
    def queued_until(self) -> datetime | None:
        return self.queued.at if self.queued else None


def next_run_at(now: datetime | None = None) -> datetime | None:
    """When the ``sync-trakt-ratings`` job runs next by the host's saved schedule (or the
    default one), or None when the admin switched it off or the cron cannot be read."""
    host = extension.state().host
    definition = next(job for job in scheduling.definitions() if job.name == jobs.SYNC_ALL)
    cron, enabled = scheduling.saved_schedule(definition, host.job_schedules())
    if not enabled or not cron:
        return None
    try:
        due: datetime | None = crontab.CronTab(cron).next(
            now=now or datetime.now(UTC), return_datetime=True, default_utc=True
        )
        return due
    except ValueError:
        log.warning("the %s schedule %r is not a cron expression", jobs.SYNC_ALL, cron)
        return None


def queued_retry(user_id: int) -> QueuedRetry | None:
    """The earliest waiting retry of the user's jobs; raises RedisError when Redis is down."""
    due = retries.scheduled_at(jobs.user_job_ids(user_id))
    if not due:
        return None
    job_id, at = min(due.items(), key=lambda pair: pair[1])
    meta: dict[str, Any] = {}
    # The entry may outlive its job hash; the time alone is still worth showing.
    with contextlib.suppress(NoSuchJobError):
        meta = Job.fetch(job_id, connection=extension.state().host.redis).meta
    return QueuedRetry(
        at=at, rate_limited=bool(meta.get(retries.RATE_LIMITED)), reason=meta.get("reason")
    )


def _unmatched(session: Any, user_id: int) -> tuple[list[UnmatchedItem], int]:
    orphan = (TraktLedger.user_id == user_id, TraktLedger.item_id.is_(None))
    total = session.scalar(select(func.count()).select_from(TraktLedger).where(*orphan))
    rows = session.scalars(
        select(TraktLedger)
        .where(*orphan)
        .order_by(TraktLedger.rated_at.desc(), TraktLedger.item_key)
        .limit(ITEM_CAP)
    )
    return [
        UnmatchedItem(
            row.kind,
            row.title,
            row.trakt,
            row.tmdb,
            row.imdb,
            row.tvdb,
            row.season,
            row.episode,
            row.value,
            row.rated_at,
        )
        for row in rows
    ], total or 0


def _outbox_count(session: Any, user_id: int, state: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(TraktOutbox)
            .where(TraktOutbox.user_id == user_id, TraktOutbox.state == state)
        )
        or 0
    )


def _headline(d: Diagnosis) -> str:
    """The first reason that stops ratings moving, in the order a person can act on."""
    if not d.connected:
        return MSG_NOT_CONNECTED
    if d.needs_reconnect:
        return MSG_NEEDS_RECONNECT.format(reason=d.reconnect_reason or MSG_ACCESS_GONE)
    if d.credentials_problem:
        return d.credentials_problem
    if d.app_needs_attention:
        return MSG_APP_NEEDS_ATTENTION
    if d.blocked_reason:
        return MSG_BLOCKED.format(reason=d.blocked_reason)
    if d.queued and d.queued.rate_limited:
        return MSG_RATE_LIMIT_WAIT.format(until=f"{d.queued.at:{TIME}}")
    if d.queued:
        why = d.last_error or d.queued.reason
        until = f"{d.queued.at:{TIME}}"
        return (
            MSG_RETRYING.format(until=until, reason=why)
            if why
            else MSG_RETRYING_NO_REASON.format(until=until)
        )
    if d.last_error:
        error = d.last_error
        if d.queue_known and retries.PROMISE in error:
            # The retry it announced is gone (a worker killed mid-job, Redis emptied): say
            # what will happen instead of a time that has passed.
            error = MSG_RETRY_LOST.format(error=error.split(retries.PROMISE, 1)[0].rstrip())
        if d.last_error_at is None:
            return MSG_LAST_SYNC_FAILED.format(error=error)
        return MSG_LAST_SYNC_FAILED_AT.format(when=f"{d.last_error_at:{DATE_TIME}}", error=error)
    if d.over_limit_total:
        reason = d.over_limit[0].reason if d.over_limit else None
        return MSG_WAITING_FOR_ROOM.format(
            count=d.over_limit_total,
            ratings="rating" if d.over_limit_total == 1 else "ratings",
            wait="waits" if d.over_limit_total == 1 else "wait",
            reason=reason or MSG_ACCOUNT_FULL,
        )
    if d.next_run_at is None:
        return MSG_IN_SYNC_UNSCHEDULED if d.last_sync_at else MSG_NOT_SYNCED_UNSCHEDULED
    when = f"{d.next_run_at:{DATE_TIME}}"
    return (MSG_IN_SYNC if d.last_sync_at else MSG_NOT_SYNCED).format(when=when)


def diagnose(user_id: int, *, for_admin: bool = False) -> Diagnosis:
    """Explains one user's sync state. ``for_admin`` decides whether a refusal of the app's
    credentials is shown as it is (admins can fix it) or only as "needs attention"."""
    state = extension.state()
    conn: TraktConnection | None = tokens.store().get(user_id)
    if conn is None:
        diagnosis = Diagnosis(user_id=user_id, headline="")
        diagnosis.headline = _headline(diagnosis)
        return diagnosis
    session = state.host.db.session
    problem = state.settings.credentials_problem()
    unmatched, unmatched_total = _unmatched(session, user_id)
    diagnosis = Diagnosis(
        user_id=user_id,
        headline="",
        connected=True,
        trakt_username=conn.trakt_username,
        needs_reconnect=conn.needs_reconnect,
        reconnect_reason=conn.reconnect_reason,
        last_sync_at=conn.last_sync_at,
        last_sync=json.loads(conn.last_sync_summary) if conn.last_sync_summary else None,
        next_run_at=next_run_at(),
        blocked_reason=conn.blocked_reason,
        last_error=conn.last_error,
        last_error_at=conn.last_error_at,
        credentials_problem=problem if for_admin else None,
        app_needs_attention=problem is not None,
        pending=_outbox_count(session, user_id, "pending"),
        unmatched=unmatched,
        unmatched_total=unmatched_total,
        not_found=[
            NotFoundItem(**row) for row in connections.not_found_on_trakt(user_id, limit=ITEM_CAP)
        ],
        not_found_total=_outbox_count(session, user_id, sync.NOT_FOUND),
        over_limit=[
            NotFoundItem(**row)
            for row in connections.not_found_on_trakt(
                user_id, limit=ITEM_CAP, state=sync.OVER_LIMIT
            )
        ],
        over_limit_total=_outbox_count(session, user_id, sync.OVER_LIMIT),
    )
    try:
        diagnosis.queued = queued_retry(user_id)
    except RedisError as exc:
        log.warning(
            "could not read the waiting Trakt retries of user %s (%s)", user_id, type(exc).__name__
        )
        diagnosis.queue_known = False
    diagnosis.headline = _headline(diagnosis)
    return diagnosis


def anyone_connected() -> bool:
    return (
        extension.state().host.db.session.scalar(select(TraktConnection.user_id).limit(1))
        is not None
    )


def connected_user_ids() -> list[int]:
    """Everyone the admin status page lists, in a stable order."""
    return list(
        extension.state().host.db.session.scalars(
            select(TraktConnection.user_id).order_by(TraktConnection.user_id)
        )
    )

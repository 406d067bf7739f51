"""Two-way rating sync of one user: the pull with its three-way merge, and the push.

Order of effects, chosen so a killed worker never leaves anything the next run gets
wrong: host writes, then Trakt writes, then the ledger, the outbox and the marker in one
transaction. Until that commits, the next run reads Trakt again, sees both sides
holding the same value and simply agrees.

A push is a sync with a fast path: when Trakt's ratings timestamps still equal the
marker, Trakt has nothing the ledger does not know, so the outbox is sent as it is;
otherwise the full merge runs, and a newer rating made on Trakt is never overwritten.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from redis.exceptions import LockError, RedisError
from sqlalchemy import bindparam, delete, select

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import oauth, tokens
from aperture_trakt_plugin.host import ExternalIds, HostRating, MediaRef, RatingWrite
from aperture_trakt_plugin.storage.bulk import execute_rows, insert_rows
from aperture_trakt_plugin.storage.models import TraktConnection, TraktLedger, TraktOutbox, utcnow
from aperture_trakt_plugin.trakt.client import (
    MSG_NOT_JSON,
    UNREADABLE_JSON,
    AccountLimit,
    MalformedResponse,
    Paging,
    TraktClient,
    TraktError,
    checked_paging,
)
from aperture_trakt_plugin.trakt.ratings import read_ratings
from aperture_trakt_plugin.trakt.wire import (
    EPOCH,
    PLURAL,
    Action,
    Decision,
    HeldRatings,
    Side,
    TraktRating,
    decide,
    moved_types,
    parse_time,
    ratings_marker,
    short_types,
    sync_body,
)

log = logging.getLogger(__name__)

SOURCE = "trakt"
LOCK_KEY = "aperture-trakt:lock:sync:{user_id}"
# A killed holder blocks the user's next run at most LOCK_TIMEOUT seconds (less than
# LOCK_WAIT, so that run gets through); a live holder renews it every third of it.
LOCK_TIMEOUT = 10
LOCK_WAIT = 30
BATCH = 500  # items per sync POST
#: A run with more writes to make asks whoever drives it (``WriteWait``) what to do when
#: the next write must wait longer than this (Trakt's one write per second): a job fills
#: the wait with other users' syncs (``carrier``), or, with only other kinds of job
#: queued, leaves the rest in the outbox for a push queued behind them. A shorter wait is
#: slept.
DEFER_OVER = 0.2
MASS_REMOVAL_SHARE, MASS_REMOVAL_MIN = 0.5, 20
#: Outbox states of a change Trakt did not take: it does not hold what was sent (kept
#: until the user changes that rating), or the account's ratings cap refused it (tried
#: again when Trakt's ratings change, the user may have made room, or a day later).
NOT_FOUND, OVER_LIMIT = "not_found", "over_limit"
#: The 2026 ratings caps (CONTRACT 10, "Account limits, 2026"): ``/users/settings`` has no
#: ratings entry in its ``limits``, so only the tier comes from Trakt.
RATINGS_LIMITS = {False: 10_000, True: 20_000}  # free, VIP
LIMIT_HOLD_KEY = "aperture-trakt:ratings-limit:{user_id}"
LIMIT_HOLD = 24 * 3600  # seconds a refusal by the cap holds its changes back
#: Named tuples made 100,000 at a time are made by ``tuple.__new__`` (every field given,
#: in order): their own constructor is a Python lambda that costs twice as much.
_new = tuple.__new__
WRITE_CHUNK = 5000  # ledger rows per executemany: bounds the parameter lists in memory
MATCH_CHUNK = 10_000  # Trakt items per find_media_bulk: bounds the host's refs in memory

# What a sync says: its one-line summary (CLI, run log, last sync on the status view) and
# the reasons it stopped (docs/troubleshooting.md).
MSG_SUMMARY = (
    "{status}: {pushed} pushed, {pushed_removals} removed on Trakt, {pulled} pulled, "
    "{pulled_removals} removed here, {conflicts} conflicts, {not_found} not found "
    "on Trakt, {waiting} waiting for the library ({calls} calls){deferred}"
)
MSG_DEFERRED = (
    ", {count} more go out with the next push (Trakt takes one write per second; "
    "the worker did other users' work meanwhile)"
)
MSG_SKIPPED_NOT_CONNECTED = "not connected"
MSG_SKIPPED_RECONNECT = "needs reconnecting"
MSG_UNCHANGED = "nothing changed on Trakt"
MSG_MORE_CHANGES = "… and {count} more changes"
MSG_LOCK_NO_REDIS = "cannot take the sync lock: Redis is unreachable ({reason})"
MSG_BUSY = "another sync of this user is still running"
MSG_UNKNOWN_IDS = "Trakt does not know this item's ids"
MSG_NOT_TAKEN = "Trakt did not take this rating: it still holds {held}"
MSG_REMOVAL_NOT_TAKEN = "Trakt did not remove this rating: it still holds {held}"
MSG_OVER_LIMIT = (
    "a {tier} Trakt account holds at most {limit:,} ratings; remove some on "
    "Trakt{upgrade} and it goes with the next sync"
)
MSG_UPGRADE = " or upgrade to VIP"
MSG_OVER_LIMIT_SUMMARY = ", {count} {waits} for room on Trakt (its {limit:,}-rating limit)"
MSG_MASS_REMOVAL = (
    "this sync would remove {removals} of the {held} ratings on this server; "
    "it waits for an admin's confirmation (Admin → Jobs) or `flask trakt sync "
    "--force`"
)


class SyncBusy(TraktError):
    """Another sync of this user is running."""

    retryable = True


@dataclass
class SyncResult:
    user_id: int
    # synced | unchanged | pushed | blocked | skipped | dry-run | failed | rescheduled
    status: str = "synced"
    api_calls: int = 0
    pushed: int = 0
    pushed_removals: int = 0
    pulled: int = 0
    pulled_removals: int = 0
    agreed: int = 0
    not_found: int = 0
    waiting_for_library: int = 0
    conflicts: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    changes: int = 0  # totals; the lists above keep at most LOG_LINES lines outside dry runs
    conflict_count: int = 0
    deferred: int = 0  # writes left in the outbox for the push queued behind this run
    over_limit: int = 0  # changes the account's ratings cap refused (outbox: OVER_LIMIT)
    ratings_limit: int = 0  # that cap, when one refused
    message: str = ""

    def summary(self) -> str:
        if self.status in ("unchanged", "skipped", "blocked", "failed", "rescheduled"):
            return f"{self.status}: {self.message}" if self.message else self.status
        later = MSG_DEFERRED.format(count=self.deferred) if self.deferred else ""
        if self.over_limit:
            later += MSG_OVER_LIMIT_SUMMARY.format(
                count=self.over_limit,
                waits="waits" if self.over_limit == 1 else "wait",
                limit=self.ratings_limit,
            )
        return MSG_SUMMARY.format(
            status=self.status,
            pushed=self.pushed,
            pushed_removals=self.pushed_removals,
            pulled=self.pulled,
            pulled_removals=self.pulled_removals,
            conflicts=self.conflict_count,
            not_found=self.not_found,
            waiting=self.waiting_for_library,
            calls=self.api_calls,
            deferred=later,
        )


class WriteWait(NamedTuple):
    """What a run's steps yield when their next write must wait ``seconds`` (more than
    ``DEFER_OVER``): the driver answers True to go on (the run writes as soon as its
    slot opens, sleeping what is left of the wait) or False to leave the rest of the
    writes to a push (see ``_write_trakt``). ``held``: the changes the run keeps in
    memory meanwhile, so a driver holding several runs can bound what it holds."""

    seconds: float
    held: int
    trakt: TraktSide


#: A run as steps: yields ``WriteWait``, is sent the answer, returns its result.
Steps = Generator[WriteWait, bool, "SyncResult"]


def run_steps(steps: Generator[WriteWait, bool, Any]) -> Any:
    """Drives a run alone: a wait is left to a push exactly when ``should_defer`` says so
    (other jobs queued, or a wait too long to sleep), otherwise slept through."""
    try:
        wait = next(steps)
        while True:
            wait = steps.send(not wait.trakt.should_defer())
    except StopIteration as done:
        return done.value


class Change(NamedTuple):
    """One item whose rating moves: where to, from which outbox version (if any)."""

    key: str
    ref: MediaRef
    decision: Decision
    trakt_id: int | None = None
    outbox_version: int | None = None


def _db() -> Any:
    return extension.state().host.db


def _redis() -> Any:
    return extension.state().host.redis


@contextmanager
def user_lock(user_id: int) -> Iterator[None]:
    """One sync (pull or push) per user at a time, across every process.

    The lock is short-lived and renewed from a thread while its holder works, rather
    than long enough for any run: a worker killed mid-run (kill -9, OOM) cannot release
    it, and with a long expiry it blocked that user's syncs for fifteen minutes."""
    try:
        lock = _redis().lock(
            LOCK_KEY.format(user_id=user_id),
            timeout=LOCK_TIMEOUT,
            blocking_timeout=LOCK_WAIT,
            thread_local=False,
        )
        acquired = lock.acquire()
    except RedisError as exc:
        raise SyncBusy(MSG_LOCK_NO_REDIS.format(reason=exc)) from exc
    if not acquired:
        raise SyncBusy(MSG_BUSY)
    done = threading.Event()

    def renew() -> None:
        while not done.wait(LOCK_TIMEOUT / 3):
            try:
                lock.reacquire()
            except (LockError, RedisError) as exc:
                log.warning("could not renew the sync lock of user %s (%s)", user_id, exc)

    renewer = threading.Thread(target=renew, name=f"trakt-lock-{user_id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()
        try:
            lock.release()
        except (LockError, RedisError):  # expired: the next run takes it
            log.warning("the sync lock of user %s expired before it was released", user_id)


class TraktSide:
    """The user's Trakt, with every call counted and made with a fresh token.

    ``others_waiting`` (given by a job, None in the foreground) says whether other jobs
    are queued: only then is it worth ending a run early instead of sleeping until the
    user's next write may go."""

    def __init__(
        self, user_id: int, result: SyncResult, others_waiting: Callable[[], bool] | None = None
    ) -> None:
        self.user_id = user_id
        self.result = result
        self.client: TraktClient = oauth.api_client()
        self.others_waiting = others_waiting
        #: Changes Trakt did not take in this run: key -> (outbox state, reason).
        self.refused: dict[str, tuple[str, str]] = {}

    def call(self, method: str, path: str, **kw: Any) -> Any:
        def once(token: str) -> Any:
            self.result.api_calls += 1
            return self.client.api(method, path, token=token, user_key=str(self.user_id), **kw)

        return tokens.call_as_user(self.user_id, once)

    def get_json(self, path: str, **kw: Any) -> Any:
        response = self.call("GET", path, **kw)
        try:
            return response.json()
        except UNREADABLE_JSON:
            raise MalformedResponse(MSG_NOT_JSON.format(path=path)) from None

    def marker(self) -> dict[str, str | None]:
        return ratings_marker(self.get_json("/sync/last_activities"))

    def rated_items(self, read_types: list[str]) -> list[TraktRating]:
        """The ratings of these types that the sync can use (see ``trakt_ratings``): one
        call per type unless Trakt decides to page anyway, in which case its headers are
        checked (``trakt_api.checked_paging``) and a type that cannot be read whole and
        consistent fails the run: removals are planned only from a complete read."""
        items: list[TraktRating] = []
        for plural in read_types:
            path = f"/sync/ratings/{plural}"
            what = f"GET {path}"
            response = self.call("GET", path)  # unparameterised: Trakt sends them all
            first: Paging | None = None
            page = 1
            while True:
                content, headers = response.content, response.headers
                del response  # its bytes stay only as long as the reading needs them
                read = read_ratings(content, what)
                del content
                # Checked before the page counts: a type is planned from only when every
                # page of it was read, and its headers agree (page 1 is always read).
                paging = checked_paging(headers, what, page, len(read), first)
                items += read
                if paging is None or page >= paging.pages:
                    break
                first = first or paging
                page += 1
                response = self.call("GET", path, params={"page": page, "limit": first.limit})
        return items

    def write(self, entries: list[tuple[MediaRef, int | None, datetime]], remove: bool) -> Any:
        """One POST (at most ``BATCH`` entries); returns Trakt's answer (None: not JSON,
        which confirms nothing)."""
        path = "/sync/ratings/remove" if remove else "/sync/ratings"
        response = self.call("POST", path, body=sync_body(entries))
        try:
            return response.json()
        except UNREADABLE_JSON:
            return None

    def ratings_limit(self) -> tuple[int, bool]:
        """The account's ratings cap and whether it is VIP's, by the tier
        ``/users/settings`` reports (free when it cannot be read)."""
        try:
            settings = self.get_json("/users/settings")
        except TraktError:
            settings = None
        user = settings.get("user") if isinstance(settings, dict) else None
        vip = isinstance(user, dict) and user.get("vip") is True
        return RATINGS_LIMITS[vip], vip

    def hold_over_limit(self) -> None:
        _redis().set(LIMIT_HOLD_KEY.format(user_id=self.user_id), 1, ex=LIMIT_HOLD)

    def over_limit_held(self) -> bool:
        return bool(_redis().exists(LIMIT_HOLD_KEY.format(user_id=self.user_id)))

    def write_wait(self) -> float:
        """Seconds until this user's next write may go (0: now)."""
        return extension.budgets().write_wait(str(self.user_id))

    def should_defer(self) -> bool:
        """Whether the next write is better left to a push queued behind other jobs."""
        if self.others_waiting is None:
            return False
        budgets = extension.budgets()
        wait = budgets.write_wait(str(self.user_id))
        # A wait too long to sleep (a lowered limit, a 429 on writes) is always left to a
        # push scheduled for then, rather than failing a run whose first batch went.
        return wait > DEFER_OVER and (wait > budgets.max_sleep or self.others_waiting())


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector, paused for the length of a merge.

    A first sync of a heavy user holds several hundred thousand small tuples alive at
    once (Trakt's items, the host's refs and ratings, the plan), none of which is ever
    garbage. Each collection that allocations trigger walks all of them again: for
    100,000 ratings that was over a third of the merge's CPU time. Reference counting
    still frees everything outside a cycle at once; the few cycles made meanwhile wait
    for the collector, which resumes afterwards. Only a pause that turned it off turns
    it back on, so nested or concurrent merges leave it as they found it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _connection(user_id: int) -> TraktConnection | None:
    return _db().session.get(TraktConnection, user_id)


def _ledger(user_id: int) -> dict[str, Any]:
    """The user's ledger as plain rows (read-only here; ``_record`` writes set-based)."""
    ledger = TraktLedger.__table__
    rows = _db().session.execute(select(ledger).where(ledger.c.user_id == user_id))
    return {row.item_key: row for row in rows}


def _outbox(user_id: int) -> dict[str, TraktOutbox]:
    rows = _db().session.scalars(select(TraktOutbox).where(TraktOutbox.user_id == user_id))
    return {row.item_id: row for row in rows}


def _side(value: int | None, at: datetime | None) -> Side:
    return Side(value, at or EPOCH)


def _apply(
    user_id: int,
    trakt: TraktSide,
    changes: list[Change],
    result: SyncResult,
    marker: dict[str, str | None] | None,
    *,
    outbox: dict[str, TraktOutbox] | None = None,
    ledger_keys: set[str] | None = None,
    unblock: bool = False,
) -> Generator[WriteWait, bool, None]:
    """Writes a plan in the crash-safe order described in the module docstring (steps:
    see ``WriteWait``). ``outbox`` and ``ledger_keys``: the user's, when the caller has
    just read them and nothing has committed since (the push path, which is never paused;
    under the user's lock). ``unblock``: clear the mass-removal block in the same commit.

    While the steps are paused, the driver may run other users' steps in the same
    database session, and their commits must not carry half of this run: nothing is
    written to the session here before the last write has gone."""
    host = extension.state().host
    db = _db()
    to_host = Action.TO_HOST
    host_writes = [
        _new(RatingWrite, (c.ref.item_id, c.decision.value, c.decision.at))
        for c in changes
        if c.decision.action is to_host and c.ref.item_id
    ]
    if host_writes:
        host.apply_ratings(user_id, host_writes, SOURCE)
    to_trakt = [c for c in changes if c.decision.action is Action.TO_TRAKT]
    deferred = yield from _write_trakt(trakt, to_trakt)
    conn = _connection(user_id)
    if conn is None:  # disconnected while the run was paused: nothing of it is kept
        result.status, result.message = "skipped", MSG_SKIPPED_NOT_CONNECTED
        return
    sent = [c for c in to_trakt if c.key not in deferred]
    adds = [c for c in sent if c.decision.value is not None]
    removals = [c for c in sent if c.decision.value is None]
    refused = trakt.refused
    if sent:
        marker = trakt.marker()  # our own writes moved Trakt's timestamps

    # Ledger, outbox and marker move together in one transaction: one commit (SQLite
    # lets one writer in at a time, and a fleet's workers queue on every commit), and a
    # crash before it leaves the next run to find both sides equal and agree.
    if outbox is None:
        outbox = _outbox(user_id)
    queued: list[tuple] = []  # deferred changes the outbox does not hold yet
    done: list[tuple] = []  # outbox rows now on both sides, unless changed since
    # (A pull with nothing pending and nothing held back has no outbox work: 100,000
    # changes are not walked for it.)
    for change in changes if outbox or deferred or refused else ():
        row = outbox.get(change.ref.item_id or "")
        if change.key in deferred:  # stays (or is put) in the outbox for the next push
            if row is None:
                queued.append(
                    (
                        user_id,
                        change.ref.item_id,
                        change.decision.value,
                        change.decision.at,
                        1,
                        "pending",
                    )
                )
            continue
        refusal = refused.get(change.key)
        if refusal is not None:  # kept with its reason; a change made since stays pending
            if row is None:
                db.session.add(
                    TraktOutbox(
                        user_id=user_id,
                        item_id=change.ref.item_id,
                        value=change.decision.value,
                        at=change.decision.at,
                        version=1,
                        state=refusal[0],
                        reason=refusal[1],
                    )
                )
            elif row.version == change.outbox_version:
                row.state, row.reason = refusal
            continue
        if row is not None and row.version == change.outbox_version:
            done.append((user_id, row.item_id, row.version))
    table = TraktOutbox.__table__
    # The version check leaves a change made meanwhile for the next push.
    execute_rows(
        db.session,
        delete(table).where(
            table.c.user_id == bindparam("u"),
            table.c.item_id == bindparam("i"),
            table.c.version == bindparam("v"),
        ),
        ("u", "i", "v"),
        done,
    )
    insert_rows(db.session, table, OUTBOX_COLUMNS, queued)
    _record(
        user_id,
        [c for c in changes if c.key not in refused and c.key not in deferred]
        if refused or deferred
        else changes,
        ledger_keys,
    )

    result.pushed += len([c for c in adds if c.key not in refused])
    result.pushed_removals += len([c for c in removals if c.key not in refused])
    states = [state for state, _ in refused.values()]
    result.not_found += states.count(NOT_FOUND)
    result.over_limit += states.count(OVER_LIMIT)
    result.deferred += len(deferred)
    let_go = {PLURAL[c.ref.kind] for c in changes if c.decision.action is Action.LET_GO}
    if marker is not None and let_go:
        # The next run reads these types from Trakt again, so a rating Trakt still holds
        # for a title that left is kept to wait for the library like any other.
        marker = {plural: None if plural in let_go else at for plural, at in marker.items()}
    if unblock:
        conn.blocked_reason = None
    if marker is not None:
        conn.ratings_marker = json.dumps(marker)
    conn.last_sync_at, conn.last_error, conn.last_error_at = utcnow(), None, None
    conn.last_sync_summary = json.dumps(asdict(result))
    db.session.commit()


def _write_trakt(trakt: TraktSide, to_trakt: list[Change]) -> Generator[WriteWait, bool, set[str]]:
    """POSTs the changes in batches (adds, then removals); returns the keys left for a
    later push (see ``DEFER_OVER``): before a batch that would wait, it yields a
    ``WriteWait`` and the driver decides. The first batch always goes, so every run
    moves on.

    Only a change Trakt had not made itself may wait: after this run the marker says
    Trakt holds what the ledger holds, which is true of such an item (Trakt still has
    the agreed value) but not of one where the host won a conflict (Trakt holds its own,
    newer-than-agreed value): that one goes now, so conflicts are put first.

    Nothing counts as taken that Trakt's answer does not confirm (``_settle``). A 420,
    the account's ratings cap, ends the adds: the adds after it are not sent, and the
    removals still go (they make room)."""
    trakt.refused = {}
    deferred: set[str] = set()
    doubtful: list[Change] = []  # sent, but not accounted for by the answer's counts
    capped: list[Change] = []  # sent in the batch the cap refused: Trakt may hold part
    unsent: list[Change] = []  # adds after the cap refused one
    posted = False
    for remove in (False, True):
        batch = sorted(
            (c for c in to_trakt if (c.decision.value is None) is remove),
            key=lambda c: not c.decision.conflict,
        )
        for start in range(0, len(batch), BATCH):
            part = batch[start : start + BATCH]
            if capped and not remove:
                unsent += part
                continue
            may_wait = not any(c.decision.conflict for c in part)
            if posted and may_wait and not deferred:
                wait = trakt.write_wait()
                if wait > DEFER_OVER and not (yield WriteWait(wait, len(to_trakt), trakt)):
                    deferred.update(c.key for c in part)
                    continue
            elif posted and may_wait:
                deferred.update(c.key for c in part)
                continue
            posted = True
            try:
                answer = trakt.write(
                    [(c.ref, c.decision.value, c.decision.at) for c in part], remove
                )
            except AccountLimit:
                if remove:
                    raise
                capped += part
                continue
            short = short_types(
                (c.ref.kind for c in part), answer, "deleted" if remove else "added"
            )
            doubtful += (c for c in part if PLURAL[c.ref.kind] in short)
    if doubtful or capped or unsent:
        _settle(trakt, doubtful, capped, unsent)
    return deferred


def _settle(
    trakt: TraktSide, doubtful: list[Change], capped: list[Change], unsent: list[Change]
) -> None:
    """Decides what Trakt took of the changes its answers left in doubt, by reading what
    it now holds of their types, and puts the rest in ``trakt.refused``: never recorded
    as agreed, so a later pull cannot take a rating off the host because Trakt lacks it.
    A cap's refusal names the cap and holds its changes back (``OVER_LIMIT``)."""
    checked = doubtful + capped
    held = HeldRatings(
        trakt.rated_items(sorted({PLURAL[c.ref.kind] for c in checked})) if checked else []
    )
    limit_reason = ""
    if capped or unsent:
        limit, vip = trakt.ratings_limit()
        trakt.result.ratings_limit = limit
        limit_reason = MSG_OVER_LIMIT.format(
            tier="VIP" if vip else "free", limit=limit, upgrade="" if vip else MSG_UPGRADE
        )
        trakt.hold_over_limit()
    over_limit = {c.key for c in capped}
    for change in checked:
        value = held.value(change.ref)
        if value == change.decision.value:
            continue  # Trakt holds what was sent: taken
        if change.key in over_limit:
            trakt.refused[change.key] = (OVER_LIMIT, limit_reason)
        elif value is None:
            trakt.refused[change.key] = (NOT_FOUND, MSG_UNKNOWN_IDS)
        else:
            template = MSG_NOT_TAKEN if change.decision.value is not None else MSG_REMOVAL_NOT_TAKEN
            trakt.refused[change.key] = (NOT_FOUND, template.format(held=value))
    for change in unsent:
        trakt.refused[change.key] = (OVER_LIMIT, limit_reason)


OUTBOX_COLUMNS = ("user_id", "item_id", "value", "at", "version", "state")
LEDGER_COLUMNS = (
    "user_id",
    "item_key",
    "kind",
    "item_id",
    "trakt",
    "tmdb",
    "imdb",
    "tvdb",
    "season",
    "episode",
    "title",
    "value",
    "rated_at",
)
#: A library item's row keeps the pairing only: the host knows the item's ids and title,
#: and a first sync writes 100,000 such rows, which SQLite stores in about half the time
#: without the six columns the host already answers for (they stay empty).
PAIRED_COLUMNS = ("user_id", "item_key", "kind", "item_id", "trakt", "value", "rated_at")


def _record(user_id: int, changes: list[Change], held: set[str] | None = None) -> None:
    """Moves the ledger to what both sides now hold (no row for "unrated").

    Set-based: the changed keys' rows are deleted and the new ones inserted in a few
    statements, the same end state as an upsert per row on every database, at a fraction
    of the cost of an ORM object per row (a first sync records 100,000 of them).
    """
    if not changes:
        return
    db = _db()
    ledger = TraktLedger.__table__
    forget = delete(ledger).where(
        ledger.c.user_id == bindparam("u"), ledger.c.item_key == bindparam("k")
    )
    if held is None:
        held = set(db.session.scalars(select(ledger.c.item_key).where(ledger.c.user_id == user_id)))
    for start in range(0, len(changes), WRITE_CHUNK):  # bounded lists of parameters
        part = changes[start : start + WRITE_CHUNK]
        execute_rows(
            db.session, forget, ("u", "k"), [(user_id, c.key) for c in part if c.key in held]
        )
        paired, waiting = [], []
        for c in part:
            ref, value, at = c.ref, c.decision.value, c.decision.at
            if value is None:
                continue
            if ref.item_id:
                paired.append(
                    (user_id, c.key, ref.kind, ref.item_id, c.trakt_id or ref.ids.trakt, value, at)
                )
            else:
                waiting.append(
                    (
                        user_id,
                        c.key,
                        ref.kind,
                        None,
                        c.trakt_id or ref.ids.trakt,
                        ref.ids.tmdb,
                        ref.ids.imdb,
                        ref.ids.tvdb,
                        ref.season,
                        ref.episode,
                        (ref.title or "")[:255],
                        value,
                        at,
                    )
                )
        insert_rows(db.session, ledger, PAIRED_COLUMNS, paired)
        insert_rows(db.session, ledger, LEDGER_COLUMNS, waiting)


def plan(
    user_id: int,
    trakt_items: list[TraktRating],
    read_types: list[str],
    marker: dict[str, str | None],
    held: list[HostRating] | None = None,
) -> list[Change]:
    """The merge: every item either side or the ledger knows, decided three-way.
    ``held``: the host's ratings of the user, when the caller has read them already.

    Changes come in the order of their keys (the ledger's primary key): the database
    stores rows handed over in key order a third faster than in a set's order."""
    host = extension.state().host
    ledger, outbox = _ledger(user_id), _outbox(user_id)
    host_ratings = {
        r.media.item_id: r for r in (held if held is not None else host.list_ratings(user_id))
    }
    # Matched a slice at a time, keeping a match only where the host's rating does not
    # bring the same ref: a user who rates everything already made 100,000 refs the
    # host built only to be dropped again, all alive at once at the sync's peak.
    on_trakt: dict[str, tuple[TraktRating, MediaRef | None]] = {}
    for start in range(0, len(trakt_items), MATCH_CHUNK):
        part = trakt_items[start : start + MATCH_CHUNK]
        matches = host.find_media_bulk([t.ref for t in part])
        on_trakt.update(
            (
                (f"h:{match.item_id}" if match else item.orphan_key),
                (item, None if match and match.item_id in host_ratings else match),
            )
            for item, match in zip(part, matches, strict=True)
        )
    removed_at = {t: parse_time(marker.get(t)) or datetime.now(UTC) for t in read_types}
    # Only the sorted list of keys lives on: the set and the host's keys that duplicate
    # Trakt's go as soon as they are made (100,000 strings fewer at the peak).
    keys = sorted(
        set(ledger).union(
            on_trakt,
            (f"h:{item_id}" for item_id in host_ratings),
            (f"h:{item_id}" for item_id in outbox),
        )
    )

    changes: list[Change] = []
    unrated = Side(None, EPOCH)
    for key in keys:
        base_row = ledger.get(key)
        item, match = on_trakt.pop(key, (None, None))  # each key comes once: its pair goes
        item_id = key[2:] if key.startswith("h:") else None
        rating = host_ratings.get(item_id) if item_id else None
        pending = outbox.get(item_id) if item_id else None
        if match is not None and base_row is None and rating is None and pending is None:
            # Only Trakt rates this library item, and it was never paired: it goes to the
            # host (``decide``'s answer, without the call: a first sync's usual case).
            decision = _new(Decision, (Action.TO_HOST, item.value, item.rated_at, False, ""))
            changes.append(_new(Change, (key, match, decision, item.trakt_id, None)))
            continue
        base = _side(base_row.value, base_row.rated_at) if base_row else None
        ref = (rating.media if rating else match) or (item.ref if item else None)
        if ref is None and item_id:
            ref = host.get_media(item_id)
            if ref is None and base_row is not None:
                # The item left the library. Its Trakt rating stays: an admin removing a
                # file must not take a user's rating off Trakt. If Trakt still holds it,
                # it waits for the library like any rating of an item the library lacks.
                changes.append(
                    Change(
                        key,
                        _ledger_ref(base_row),
                        Decision(Action.LET_GO, None, base_row.rated_at),
                        None,
                        pending.version if pending else None,
                    )
                )
                continue
        if ref is None and base_row is not None:
            ref = _ledger_ref(base_row)  # a Trakt rating the library still lacks
        if ref is None:
            continue  # an outbox row for an item that left the library
        plural = PLURAL[ref.kind]
        if plural not in read_types:
            trakt_side = base or unrated
        elif item is not None:
            trakt_side = _new(Side, (item.value, item.rated_at))
        else:
            trakt_side = Side(None, removed_at[plural])  # Trakt keeps no removal time
        if item_id is None:
            host_side = base or unrated  # not in the library: only the ledger records it
        elif rating is not None:
            host_side = _new(Side, (rating.value, rating.rated_at))
        elif pending is not None and pending.value is None:
            host_side = Side(None, pending.at)
        else:
            host_side = unrated
        decision = decide(base, host_side, trakt_side)
        if decision.action is Action.NONE and pending is None:
            continue
        if (
            decision.action is Action.TO_TRAKT
            and pending is not None
            and pending.state != "pending"
            and pending.value == decision.value
        ):
            continue  # Trakt did not take it (``_settle``); wait for a change or for room
        changes.append(
            _new(
                Change,
                (
                    key,
                    ref,
                    decision,
                    item.trakt_id if item else None,
                    pending.version if pending else None,
                ),
            )
        )
    return changes


def _ledger_ref(row: Any) -> MediaRef:
    """From a ``TraktLedger`` object or a plain row of its table."""
    return MediaRef(
        kind=row.kind,
        ids=ExternalIds(tmdb=row.tmdb, imdb=row.imdb, tvdb=row.tvdb, trakt=row.trakt),
        item_id=row.item_id,
        title=row.title or "",
        season=row.season,
        episode=row.episode,
    )


def _describe(change: Change) -> str:
    d = change.decision
    what = f"{change.ref.kind} {change.ref.title or change.key}"
    where = {
        Action.TO_TRAKT: "Trakt",
        Action.TO_HOST: "this server",
        Action.AGREE: "the ledger",
        Action.NONE: "nothing",
        Action.LET_GO: "the ledger",
    }[d.action]
    verb = f"set to {d.value}" if d.value is not None else "removed"
    if d.action is Action.LET_GO:
        verb = "let go (it left the library; its Trakt rating stays)"
    reason = f" (both changed; {d.winner}'s is newer)" if d.conflict else ""
    return f"{where}: {what} {verb}{reason}"


#: Lines of plan and of conflicts a run keeps (in its log, its result and the connection's
#: summary): a first sync of 100,000 ratings must not write 100,000 log lines.
LOG_LINES = 50


def _tally(changes: list[Change], result: SyncResult, keep_all: bool = False) -> list[Change]:
    """Counts the plan into ``result`` and keeps its first lines (all with ``keep_all``).
    Counted with local tallies, not the result's attributes: a first sync tallies
    100,000 changes."""
    limit = len(changes) if keep_all else LOG_LINES
    to_host, agree = Action.TO_HOST, Action.AGREE
    pulled = pulled_removals = waiting = agreed = conflicts = 0
    for change in changes:
        d = change.decision
        if len(result.plan) < limit:
            result.plan.append(_describe(change))
        if d.conflict:
            conflicts += 1
            if len(result.conflicts) < limit:
                result.conflicts.append(_describe(change))
        if d.action is to_host:
            if not change.ref.item_id:
                waiting += d.value is not None
            elif d.value is None:
                pulled_removals += 1
            else:
                pulled += 1
        elif d.action is agree:
            agreed += 1
    result.changes += len(changes)
    result.pulled += pulled
    result.pulled_removals += pulled_removals
    result.waiting_for_library += waiting
    result.agreed += agreed
    result.conflict_count += conflicts
    return changes


def _mass_removal(changes: list[Change], held: int) -> str | None:
    """``held``: how many ratings the host holds (counted by the caller, which has read
    them for the merge: reading 100,000 ratings twice cost seconds)."""
    removals = sum(
        1
        for c in changes
        if c.decision.action is Action.TO_HOST and c.decision.value is None and c.ref.item_id
    )
    if removals >= MASS_REMOVAL_MIN and removals > held * MASS_REMOVAL_SHARE:
        return MSG_MASS_REMOVAL.format(removals=removals, held=held)
    return None


@collector_paused()
def sync_user_ratings(
    user_id: int,
    *,
    dry_run: bool = False,
    force: bool = False,
    report: Callable[[str], None] | None = None,
    others_waiting: Callable[[], bool] | None = None,
) -> SyncResult:
    """One user's two-way sync (the pull); the outbox goes along. ``others_waiting``: see
    ``TraktSide`` (the caller queues the push that sends ``result.deferred``)."""
    return run_steps(
        sync_steps(
            user_id, dry_run=dry_run, force=force, report=report, others_waiting=others_waiting
        )
    )


def sync_steps(
    user_id: int,
    *,
    dry_run: bool = False,
    force: bool = False,
    report: Callable[[str], None] | None = None,
    others_waiting: Callable[[], bool] | None = None,
) -> Steps:
    """``sync_user_ratings`` as steps (``WriteWait``), for a driver that fills a wait
    for Trakt's write spacing with other work. The user's lock is held while paused."""
    result = SyncResult(user_id)
    conn = _connection(user_id)
    if conn is None or conn.needs_reconnect:
        result.status = "skipped"
        result.message = MSG_SKIPPED_NOT_CONNECTED if conn is None else MSG_SKIPPED_RECONNECT
        return result
    with user_lock(user_id):
        if not dry_run:
            resolve_orphans(user_id)
        trakt = TraktSide(user_id, result, others_waiting)
        marker = trakt.marker()
        known = json.loads(conn.ratings_marker) if conn.ratings_marker else None
        read_types = moved_types(known, marker)
        if not dry_run:
            _release_over_limit(trakt, bool(read_types or force))
        pending = _db().session.scalar(
            select(TraktOutbox.item_id)
            .where(TraktOutbox.user_id == user_id, TraktOutbox.state == "pending")
            .limit(1)
        )
        if not read_types and pending is None and not force:
            result.status, result.message = "unchanged", MSG_UNCHANGED
            conn.last_sync_at = utcnow()
            _db().session.commit()
            return result
        items = trakt.rated_items(read_types)
        held = extension.state().host.list_ratings(user_id)
        held_count = len(held)
        changes = _tally(plan(user_id, items, read_types, marker, held), result, keep_all=dry_run)
        del items, held  # the plan keeps what it needs; the writes need the memory
        if dry_run:
            result.status = "dry-run"
            return result
        blocked = None if force else _mass_removal(changes, held_count)
        if blocked:
            conn.blocked_reason = blocked
            _db().session.commit()
            result.status, result.message = "blocked", blocked
            return result
        yield from _apply(user_id, trakt, changes, result, marker, unblock=True)
    if report:
        for line in result.plan:
            report(line)
        if result.changes > len(result.plan):
            report(MSG_MORE_CHANGES.format(count=result.changes - len(result.plan)))
    return result


def push_user(user_id: int, others_waiting: Callable[[], bool] | None = None) -> SyncResult:
    """Sends the outbox. Trakt unchanged since the last agreement: straight out (one read,
    the writes, one read for the new marker); otherwise the full sync decides."""
    return run_steps(push_steps(user_id, others_waiting))


def push_steps(user_id: int, others_waiting: Callable[[], bool] | None = None) -> Steps:
    """``push_user`` as steps. Only ``run_steps`` drives them: the fast path keeps the
    outbox rows it read across the writes, which another run's commit would expire."""
    result = SyncResult(user_id, status="pushed")
    conn = _connection(user_id)
    if conn is None or conn.needs_reconnect:
        result.status = "skipped"
        return result
    with user_lock(user_id):
        # A write could not go out sooner anyway: waiting before reading the outbox lets
        # this push take every change made meanwhile (a burst of ratings costs two POSTs,
        # not one per job that happens to run), and leaves the job queued since then
        # an empty outbox.
        extension.budgets().wait_for_write(str(user_id), "push")
        _db().session.refresh(conn)
        held_outbox = _outbox(user_id)
        outbox = [row for row in held_outbox.values() if row.state == "pending"]
        if not outbox:
            result.status = "unchanged"
            return result
        trakt = TraktSide(user_id, result, others_waiting)
        marker = trakt.marker()
        known = json.loads(conn.ratings_marker) if conn.ratings_marker else None
        if moved_types(known, marker):
            fall_back = True
        else:
            fall_back = False
            host = extension.state().host
            ledger = _ledger(user_id)
            changes = []
            refs = host.get_media_bulk([row.item_id for row in outbox])
            for row, ref in zip(outbox, refs, strict=True):
                if ref is None:
                    continue
                key = f"h:{row.item_id}"
                base = ledger.get(key)
                agreed = Side(base.value, base.rated_at) if base else None
                decision = decide(agreed, Side(row.value, row.at), agreed or Side(None, EPOCH))
                changes.append(Change(key, ref, decision, None, row.version))
            yield from _apply(
                user_id,
                trakt,
                changes,
                result,
                marker,  # NONE ones leave
                outbox=held_outbox,
                ledger_keys=set(ledger),
            )  # the outbox
            return result
    if fall_back:
        with collector_paused():
            return (yield from sync_steps(user_id, others_waiting=others_waiting))
    return result


def _release_over_limit(trakt: TraktSide, trakt_changed: bool) -> None:
    """Changes the ratings cap refused go out again once the user may have made room:
    Trakt's ratings changed since the last run, or the hold of a refusal has run out."""
    table = TraktOutbox.__table__
    where = (table.c.user_id == trakt.user_id, table.c.state == OVER_LIMIT)
    session = _db().session
    if session.scalar(select(table.c.item_id).where(*where).limit(1)) is None:
        return  # the usual case: a read, not a write, so no write lock on SQLite
    if trakt_changed or not trakt.over_limit_held():
        session.execute(table.update().where(*where).values(state="pending", reason=None))


def start_afresh(user_id: int) -> None:
    """Makes the user's next sync a first sync, for a Trakt account other than the one
    the ledger was agreed with: no ledger (Trakt ratings of titles the library lacks
    included: they were the old account's), no marker, and every change Trakt did not
    take offered again. Host ratings stay, and go to the new account. Nothing commits
    here: the caller stores the new account in the same commit."""
    session = _db().session
    session.execute(delete(TraktLedger).where(TraktLedger.user_id == user_id))
    table = TraktOutbox.__table__
    session.execute(
        table.update()
        .where(table.c.user_id == user_id, table.c.state != "pending")
        .values(state="pending", reason=None)
    )
    conn = _connection(user_id)
    if conn is not None:
        conn.ratings_marker = conn.blocked_reason = conn.last_sync_summary = None
        conn.last_sync_at = None
    try:
        _redis().delete(LIMIT_HOLD_KEY.format(user_id=user_id))
    except RedisError:  # the hold only spares a refused write; the next 420 sets it again
        log.warning("could not clear the ratings-limit hold of user %s", user_id)


def resolve_orphans(user_id: int) -> int:
    """Trakt ratings of items that have since arrived in the library reach the host."""
    db = _db()
    host = extension.state().host
    orphans = list(
        db.session.scalars(
            select(TraktLedger).where(TraktLedger.user_id == user_id, TraktLedger.item_id.is_(None))
        )
    )
    if not orphans:
        return 0
    matches = host.find_media_bulk([_ledger_ref(row) for row in orphans])
    held = {r.media.item_id for r in host.list_ratings(user_id)}
    arrived = [(row, match) for row, match in zip(orphans, matches, strict=True) if match]
    # Host first, ledger after: a crash in between leaves both sides equal, which the next
    # merge records as agreed; the other order would read as a removal on the host.
    writes = [
        RatingWrite(match.item_id, row.value, row.rated_at)
        for row, match in arrived
        if match.item_id not in held
    ]
    if writes:
        host.apply_ratings(user_id, writes, SOURCE)
    # Each orphan is read before it is deleted: the host's commit above expired it, and
    # reading it after the delete reloaded it from a row the autoflush had just removed.
    for row, match in arrived:
        if match.item_id not in held:  # else the host has its own: newest wins at the sync
            db.session.add(
                TraktLedger(
                    user_id=user_id,
                    item_key=f"h:{match.item_id}",
                    kind=row.kind,
                    item_id=match.item_id,
                    trakt=row.trakt,
                    tmdb=match.ids.tmdb,
                    imdb=match.ids.imdb,
                    tvdb=match.ids.tvdb,
                    season=row.season,
                    episode=row.episode,
                    title=row.title,
                    value=row.value,
                    rated_at=row.rated_at,
                )
            )
        db.session.delete(row)
    db.session.commit()
    return len(writes)

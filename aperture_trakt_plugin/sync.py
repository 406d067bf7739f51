"""Two-way rating sync of one user: the pull with its three-way merge, and the push.

Order of effects, chosen so a killed worker never leaves anything the next run gets
wrong: host writes, then Trakt writes, then the ledger, then the outbox, then the
marker. Until the ledger moves, the next run sees both sides holding the same value
and simply agrees; until the marker moves, it reads Trakt again.

A push is a sync with a fast path: when Trakt's ratings timestamps still equal the
marker, Trakt has nothing the ledger does not know, so the outbox is sent as it is;
otherwise the full merge runs, and a newer rating made on Trakt is never overwritten.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import LockError, RedisError
from sqlalchemy import select

from aperture_trakt_plugin import extension, oauth, tokens
from aperture_trakt_plugin.host import ExternalIds, MediaRef, RatingWrite
from aperture_trakt_plugin.mapping import (
    EPOCH,
    PLURAL,
    Action,
    Decision,
    Side,
    TraktRating,
    body_ids,
    decide,
    moved_types,
    parse_time,
    ratings_marker,
    sync_body,
    trakt_rating,
)
from aperture_trakt_plugin.models import TraktConnection, TraktLedger, TraktOutbox, utcnow
from aperture_trakt_plugin.trakt_api import TraktClient, TraktError

log = logging.getLogger(__name__)

SOURCE = "trakt"
LOCK_KEY = "aperture-trakt:lock:sync:{user_id}"
LAST_WRITE_KEY = "aperture-trakt:last-write:{user_id}"
LOCK_TIMEOUT = 900
LOCK_WAIT = 30
WRITE_SPACING = 1.0  # Trakt allows one write per second per user
BATCH = 500  # items per sync POST
MASS_REMOVAL_SHARE, MASS_REMOVAL_MIN = 0.5, 20


class SyncBusy(TraktError):
    """Another sync of this user is running."""

    retryable = True


@dataclass
class SyncResult:
    user_id: int
    status: str = "synced"  # synced | unchanged | pushed | blocked | skipped | dry-run
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
    message: str = ""

    def summary(self) -> str:
        if self.status in ("unchanged", "skipped", "blocked"):
            return f"{self.status}: {self.message}" if self.message else self.status
        return (f"{self.status}: {self.pushed} pushed, {self.pushed_removals} removed on Trakt, "
                f"{self.pulled} pulled, {self.pulled_removals} removed here, "
                f"{len(self.conflicts)} conflicts, {self.not_found} not found on Trakt, "
                f"{self.waiting_for_library} waiting for the library ({self.api_calls} calls)")


@dataclass(frozen=True)
class Change:
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
    """One sync (pull or push) per user at a time, across every process."""
    try:
        lock = _redis().lock(LOCK_KEY.format(user_id=user_id), timeout=LOCK_TIMEOUT,
                             blocking_timeout=LOCK_WAIT)
        acquired = lock.acquire()
    except RedisError as exc:
        raise SyncBusy(f"cannot take the sync lock: Redis is unreachable ({exc})") from exc
    if not acquired:
        raise SyncBusy("another sync of this user is still running")
    try:
        yield
    finally:
        try:
            lock.release()
        except (LockError, RedisError):  # expired: the next run takes it
            log.warning("the sync lock of user %s expired before it was released", user_id)


def space_writes(user_id: int) -> None:
    """At most one write per second per user, counted in Redis for every process."""
    key = LAST_WRITE_KEY.format(user_id=user_id)
    redis = _redis()
    last = redis.get(key)
    if last is not None:
        wait = WRITE_SPACING - (time.time() - float(last))
        if wait > 0:
            time.sleep(wait)
    redis.set(key, repr(time.time()), ex=60)


class TraktSide:
    """The user's Trakt, with every call counted and made with a fresh token."""

    def __init__(self, user_id: int, result: SyncResult) -> None:
        self.user_id = user_id
        self.result = result
        self.client: TraktClient = oauth.api_client()

    def call(self, method: str, path: str, **kw: Any) -> Any:
        def once(token: str) -> Any:
            self.result.api_calls += 1
            return self.client.api(method, path, token=token, **kw)

        return tokens.call_as_user(self.user_id, once)

    def get_json(self, path: str, **kw: Any) -> Any:
        response = self.call("GET", path, **kw)
        try:
            return response.json()
        except ValueError:
            raise TraktError(f"GET {path}: Trakt's answer was not JSON") from None

    def marker(self) -> dict[str, str | None]:
        return ratings_marker(self.get_json("/sync/last_activities"))

    def ratings(self, plural: str) -> list[Any]:
        """All of a type's ratings: one call unless Trakt decides to page anyway."""
        response = self.call("GET", f"/sync/ratings/{plural}")
        items = list(response.json() or [])
        pages = int(response.headers.get("X-Pagination-Page-Count") or 1)
        limit = response.headers.get("X-Pagination-Limit")
        for page in range(2, pages + 1):
            items.extend(self.get_json(f"/sync/ratings/{plural}",
                                       params={"page": page, "limit": limit}))
        return items

    def write(self, entries: list[tuple[MediaRef, int | None, datetime]], remove: bool) -> Any:
        """Batched POSTs, spaced a second apart; returns the ``not_found`` sections."""
        missing: list[Any] = []
        path = "/sync/ratings/remove" if remove else "/sync/ratings"
        for start in range(0, len(entries), BATCH):
            space_writes(self.user_id)
            answer = self.call("POST", path, body=sync_body(entries[start:start + BATCH])).json()
            section = answer.get("not_found") if isinstance(answer, dict) else None
            if isinstance(section, dict):
                missing.extend(item for items in section.values() if isinstance(items, list)
                               for item in items)
        return missing


def _connection(user_id: int) -> TraktConnection | None:
    return _db().session.get(TraktConnection, user_id)


def _ledger(user_id: int) -> dict[str, TraktLedger]:
    rows = _db().session.scalars(select(TraktLedger).where(TraktLedger.user_id == user_id))
    return {row.item_key: row for row in rows}


def _outbox(user_id: int) -> dict[str, TraktOutbox]:
    rows = _db().session.scalars(select(TraktOutbox).where(TraktOutbox.user_id == user_id))
    return {row.item_id: row for row in rows}


def _side(value: int | None, at: datetime | None) -> Side:
    return Side(value, at or EPOCH)


def _missing_ids(missing: list[Any]) -> set[str]:
    """Id signatures of the items Trakt echoed in ``not_found`` (top level or a show's)."""
    return {json.dumps(item.get("ids"), sort_keys=True) for item in missing
            if isinstance(item, dict) and isinstance(item.get("ids"), dict)}


def _signature(ref: MediaRef) -> str:
    return json.dumps(body_ids(ref.ids, "movie" if ref.kind == "movie" else "show"),
                      sort_keys=True)


def _apply(user_id: int, trakt: TraktSide, changes: list[Change], result: SyncResult,
           marker: dict[str, str | None] | None) -> None:
    """Writes a plan in the crash-safe order described in the module docstring."""
    host = extension.state().host
    db = _db()
    host_writes = [RatingWrite(c.ref.item_id, c.decision.value, c.decision.at) for c in changes
                   if c.decision.action is Action.TO_HOST and c.ref.item_id]
    if host_writes:
        host.apply_ratings(user_id, host_writes, SOURCE)
    to_trakt = [c for c in changes if c.decision.action is Action.TO_TRAKT]
    adds = [c for c in to_trakt if c.decision.value is not None]
    removals = [c for c in to_trakt if c.decision.value is None]
    missing: set[str] = set()
    for batch, remove in ((adds, False), (removals, True)):
        if batch:
            answer = trakt.write([(c.ref, c.decision.value, c.decision.at) for c in batch],
                                 remove)
            missing |= _missing_ids(answer)
    not_found = {c.key for c in to_trakt if _signature(c.ref) in missing}

    outbox = _outbox(user_id)
    for change in changes:
        if change.key in not_found:
            row = outbox.get(change.ref.item_id) or TraktOutbox(
                user_id=user_id, item_id=change.ref.item_id, value=change.decision.value,
                at=change.decision.at, version=1)
            row.state, row.reason = "not_found", "Trakt does not know this item's ids"
            db.session.add(row)
            continue
        _record(user_id, change)
        row = outbox.get(change.ref.item_id or "")
        if row is not None and row.version == change.outbox_version:
            db.session.delete(row)
    db.session.commit()

    result.pushed += len([c for c in adds if c.key not in not_found])
    result.pushed_removals += len([c for c in removals if c.key not in not_found])
    result.not_found += len(not_found)
    if to_trakt:
        marker = trakt.marker()  # our own writes moved Trakt's timestamps
    conn = _connection(user_id)
    if marker is not None:
        conn.ratings_marker = json.dumps(marker)
    conn.last_sync_at, conn.last_error, conn.last_error_at = utcnow(), None, None
    conn.last_sync_summary = json.dumps(asdict(result))
    db.session.commit()


def _record(user_id: int, change: Change) -> None:
    """Moves the ledger to what both sides now hold (no row for "unrated")."""
    db = _db()
    row = db.session.get(TraktLedger, (user_id, change.key))
    if change.decision.value is None:
        if row is not None:
            db.session.delete(row)
        return
    ref = change.ref
    row = row or TraktLedger(user_id=user_id, item_key=change.key)
    row.kind, row.item_id, row.trakt = ref.kind, ref.item_id, change.trakt_id or ref.ids.trakt
    row.tmdb, row.imdb, row.tvdb = ref.ids.tmdb, ref.ids.imdb, ref.ids.tvdb
    row.season, row.episode, row.title = ref.season, ref.episode, (ref.title or "")[:255]
    row.value, row.rated_at = change.decision.value, change.decision.at
    db.session.add(row)


def plan(user_id: int, trakt_items: list[TraktRating], read_types: list[str],
         marker: dict[str, str | None]) -> list[Change]:
    """The merge: every item either side or the ledger knows, decided three-way."""
    host = extension.state().host
    ledger, outbox = _ledger(user_id), _outbox(user_id)
    host_ratings = {r.media.item_id: r for r in host.list_ratings(user_id)}
    matches = host.find_media_bulk([t.ref for t in trakt_items])
    on_trakt: dict[str, tuple[TraktRating, MediaRef | None]] = {}
    for item, match in zip(trakt_items, matches, strict=True):
        key = f"h:{match.item_id}" if match else item.orphan_key
        on_trakt[key] = (item, match)
    removed_at = {t: parse_time(marker.get(t)) or datetime.now(UTC) for t in read_types}

    changes: list[Change] = []
    keys = set(ledger) | set(on_trakt) | {f"h:{item_id}" for item_id in host_ratings}
    keys |= {f"h:{item_id}" for item_id in outbox}
    for key in keys:
        base_row = ledger.get(key)
        base = _side(base_row.value, base_row.rated_at) if base_row else None
        item, match = on_trakt.get(key, (None, None))
        item_id = key[2:] if key.startswith("h:") else None
        rating = host_ratings.get(item_id) if item_id else None
        ref = (rating.media if rating else match) or (item.ref if item else None)
        if ref is None and item_id:
            ref = host.get_media(item_id)
        if ref is None and base_row is not None:
            ref = _ledger_ref(base_row)
        if ref is None:
            continue  # an outbox row for an item that left the library
        plural = PLURAL[ref.kind]
        unchanged = base or Side(None, EPOCH)
        if plural not in read_types:
            trakt_side = unchanged
        elif item is not None:
            trakt_side = Side(item.value, item.rated_at)
        else:
            trakt_side = Side(None, removed_at[plural])  # Trakt keeps no removal time
        if item_id is None:
            host_side = unchanged  # the library does not hold it: only the ledger records it
        elif rating is not None:
            host_side = Side(rating.value, rating.rated_at)
        else:
            pending = outbox.get(item_id)
            host_side = Side(None, pending.at if pending and pending.value is None else EPOCH)
        decision = decide(base, host_side, trakt_side)
        pending = outbox.get(item_id) if item_id else None
        if decision.action is Action.NONE and pending is None:
            continue
        if (decision.action is Action.TO_TRAKT and pending is not None
                and pending.state == "not_found" and pending.value == decision.value):
            continue  # Trakt said it does not know this item; wait for a new change
        changes.append(Change(key, ref, decision, item.trakt_id if item else None,
                              pending.version if pending else None))
    return changes


def _ledger_ref(row: TraktLedger) -> MediaRef:
    return MediaRef(kind=row.kind, ids=ExternalIds(tmdb=row.tmdb, imdb=row.imdb, tvdb=row.tvdb,
                                                   trakt=row.trakt),
                    item_id=row.item_id, title=row.title or "", season=row.season,
                    episode=row.episode)


def _describe(change: Change) -> str:
    d = change.decision
    what = f"{change.ref.kind} {change.ref.title or change.key}"
    where = {Action.TO_TRAKT: "Trakt", Action.TO_HOST: "this server",
             Action.AGREE: "the ledger", Action.NONE: "nothing"}[d.action]
    verb = f"set to {d.value}" if d.value is not None else "removed"
    reason = f" (both changed; {d.winner}'s is newer)" if d.conflict else ""
    return f"{where}: {what} {verb}{reason}"


def _tally(changes: list[Change], result: SyncResult) -> list[Change]:
    for change in changes:
        d = change.decision
        result.plan.append(_describe(change))
        if d.conflict:
            result.conflicts.append(_describe(change))
        if d.action is Action.TO_HOST:
            if change.ref.item_id:
                result.pulled += d.value is not None
                result.pulled_removals += d.value is None
            else:
                result.waiting_for_library += d.value is not None
        elif d.action is Action.AGREE:
            result.agreed += 1
    return changes


def _mass_removal(user_id: int, changes: list[Change]) -> str | None:
    removals = sum(1 for c in changes if c.decision.action is Action.TO_HOST
                   and c.decision.value is None and c.ref.item_id)
    held = len(extension.state().host.list_ratings(user_id))
    if removals >= MASS_REMOVAL_MIN and removals > held * MASS_REMOVAL_SHARE:
        return (f"this sync would remove {removals} of the {held} ratings on this server; "
                "it waits for an admin's confirmation (Admin → Jobs) or `flask trakt sync "
                "--force`")
    return None


def sync_user_ratings(user_id: int, *, dry_run: bool = False, force: bool = False,
                      report: Callable[[str], None] | None = None) -> SyncResult:
    """One user's two-way sync (the pull); the outbox goes along."""
    result = SyncResult(user_id)
    conn = _connection(user_id)
    if conn is None or conn.needs_reconnect:
        result.status = "skipped"
        result.message = "not connected" if conn is None else "needs reconnecting"
        return result
    with user_lock(user_id):
        if not dry_run:
            resolve_orphans(user_id)
        trakt = TraktSide(user_id, result)
        marker = trakt.marker()
        known = json.loads(conn.ratings_marker) if conn.ratings_marker else None
        read_types = moved_types(known, marker)
        pending = _db().session.scalar(select(TraktOutbox.item_id).where(
            TraktOutbox.user_id == user_id, TraktOutbox.state == "pending").limit(1))
        if not read_types and pending is None and not force:
            result.status, result.message = "unchanged", "nothing changed on Trakt"
            conn.last_sync_at = utcnow()
            _db().session.commit()
            return result
        items = []
        for plural in read_types:
            for raw in trakt.ratings(plural):
                parsed = trakt_rating(raw)
                if parsed is not None:
                    items.append(parsed)
        changes = _tally(plan(user_id, items, read_types, marker), result)
        if dry_run:
            result.status = "dry-run"
            return result
        blocked = None if force else _mass_removal(user_id, changes)
        if blocked:
            conn.blocked_reason = blocked
            _db().session.commit()
            result.status, result.message = "blocked", blocked
            return result
        conn.blocked_reason = None
        _apply(user_id, trakt, changes, result, marker)
    if report:
        for line in result.plan:
            report(line)
    return result


def push_user(user_id: int) -> SyncResult:
    """Sends the outbox. Trakt unchanged since the last agreement: straight out (one read,
    the writes, one read for the new marker); otherwise the full sync decides."""
    result = SyncResult(user_id, status="pushed")
    conn = _connection(user_id)
    if conn is None or conn.needs_reconnect:
        result.status = "skipped"
        return result
    with user_lock(user_id):
        _db().session.refresh(conn)
        outbox = [row for row in _outbox(user_id).values() if row.state == "pending"]
        if not outbox:
            result.status = "unchanged"
            return result
        trakt = TraktSide(user_id, result)
        marker = trakt.marker()
        known = json.loads(conn.ratings_marker) if conn.ratings_marker else None
        if moved_types(known, marker):
            fall_back = True
        else:
            fall_back = False
            host = extension.state().host
            ledger = _ledger(user_id)
            changes = []
            for row in outbox:
                ref = host.get_media(row.item_id)
                if ref is None:
                    continue
                key = f"h:{row.item_id}"
                base = ledger.get(key)
                agreed = Side(base.value, base.rated_at) if base else None
                decision = decide(agreed, Side(row.value, row.at), agreed or Side(None, EPOCH))
                changes.append(Change(key, ref, decision, None, row.version))
            _apply(user_id, trakt, changes, result, marker)  # NONE ones just leave the outbox
            return result
    if fall_back:
        return sync_user_ratings(user_id)
    return result


def resolve_orphans(user_id: int) -> int:
    """Trakt ratings of items that have since arrived in the library reach the host."""
    db = _db()
    host = extension.state().host
    orphans = list(db.session.scalars(select(TraktLedger).where(
        TraktLedger.user_id == user_id, TraktLedger.item_id.is_(None))))
    if not orphans:
        return 0
    matches = host.find_media_bulk([_ledger_ref(row) for row in orphans])
    held = {r.media.item_id for r in host.list_ratings(user_id)}
    arrived = [(row, match) for row, match in zip(orphans, matches, strict=True) if match]
    # Host first, ledger after: a crash in between leaves both sides equal, which the next
    # merge records as agreed; the other order would read as a removal on the host.
    writes = [RatingWrite(match.item_id, row.value, row.rated_at) for row, match in arrived
              if match.item_id not in held]
    if writes:
        host.apply_ratings(user_id, writes, SOURCE)
    for row, match in arrived:
        db.session.delete(row)
        if match.item_id in held:
            continue  # the host has its own: both differ from "unrated", so newest wins
        db.session.add(TraktLedger(
            user_id=user_id, item_key=f"h:{match.item_id}", kind=row.kind,
            item_id=match.item_id, trakt=row.trakt, tmdb=match.ids.tmdb, imdb=match.ids.imdb,
            tvdb=match.ids.tvdb, season=row.season, episode=row.episode, title=row.title,
            value=row.value, rated_at=row.rated_at))
    db.session.commit()
    return len(writes)

"""The sync's reads and writes of the plugin's tables: the ledger (what both sides last
agreed on), the outbox (host changes not yet confirmed) and the connection's marker.

The writes of one run go in one transaction (``sync.run.apply`` commits): SQLite lets
one writer in at a time, a fleet's workers queue on every commit, and a crash before it
leaves the next run to find both sides equal and agree. Set-based: a first sync records
100,000 rows, which an ORM object per row made several times slower.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

from redis.exceptions import RedisError
from sqlalchemy import Table, bindparam, delete, select

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.host import RatingWrite
from aperture_trakt_plugin.storage.bulk import execute_rows, insert_rows
from aperture_trakt_plugin.storage.models import TraktConnection, TraktLedger, TraktOutbox
from aperture_trakt_plugin.sync.merge import OVER_LIMIT, PENDING, Change, ledger_ref, library_key
from aperture_trakt_plugin.sync.settlement import (
    PAIRED_COLUMNS,
    WAITING_COLUMNS,
    OutboxAfter,
    ledger_rows,
)
from aperture_trakt_plugin.sync.trakt_side import LIMIT_HOLD_KEY

log = logging.getLogger(__name__)

SOURCE = "trakt"  # what the host's ratings written by the sync are marked with
WRITE_CHUNK = 5000  # ledger rows per executemany: bounds the parameter lists in memory
OUTBOX_COLUMNS = ("user_id", "item_id", "value", "at", "version", "state", "reason")


# The models' tables: SQLAlchemy types ``__table__`` as any FromClause.
_LEDGER = cast(Table, TraktLedger.__table__)
_OUTBOX = cast(Table, TraktOutbox.__table__)


def _session() -> Any:
    return extension.state().host.db.session


def connection(user_id: int) -> TraktConnection | None:
    conn: TraktConnection | None = _session().get(TraktConnection, user_id)
    return conn


def ledger(user_id: int) -> dict[str, Any]:
    """The user's ledger as plain rows by key (read-only: ``record`` writes set-based)."""
    table = _LEDGER
    rows = _session().execute(select(table).where(table.c.user_id == user_id))
    return {row.item_key: row for row in rows}


def outbox(user_id: int) -> dict[str, TraktOutbox]:
    rows = _session().scalars(select(TraktOutbox).where(TraktOutbox.user_id == user_id))
    return {row.item_id: row for row in rows}


def has_pending(user_id: int) -> bool:
    return (
        _session().scalar(
            select(TraktOutbox.item_id)
            .where(TraktOutbox.user_id == user_id, TraktOutbox.state == PENDING)
            .limit(1)
        )
        is not None
    )


def write_outbox(user_id: int, after: OutboxAfter) -> None:
    """Moves the outbox as ``settlement.outbox_after`` decided (not committed)."""
    session = _session()
    for row, state, reason in after.refused:
        row.state, row.reason = state, reason
    table = _OUTBOX
    # The version check leaves a change made meanwhile for the next push.
    execute_rows(
        session,
        delete(table).where(
            table.c.user_id == bindparam("u"),
            table.c.item_id == bindparam("i"),
            table.c.version == bindparam("v"),
        ),
        ("u", "i", "v"),
        [(user_id, item_id, version) for item_id, version in after.done],
    )
    insert_rows(
        session,
        table,
        OUTBOX_COLUMNS,
        [
            (user_id, item_id, value, at, 1, state, reason)
            for item_id, value, at, state, reason in after.added
        ],
    )


def record(user_id: int, changes: Sequence[Change], held: set[str] | None = None) -> None:
    """Moves the ledger to what both sides now hold (no row for "unrated"): the changed
    keys' rows are deleted and the new ones inserted, the same end state as an upsert
    per row on every database. ``held``: the ledger's keys, when the caller has them."""
    if not changes:
        return
    session = _session()
    table = _LEDGER
    forget = delete(table).where(
        table.c.user_id == bindparam("u"), table.c.item_key == bindparam("k")
    )
    if held is None:
        held = set(session.scalars(select(table.c.item_key).where(table.c.user_id == user_id)))
    for start in range(0, len(changes), WRITE_CHUNK):  # bounded lists of parameters
        part = changes[start : start + WRITE_CHUNK]
        execute_rows(session, forget, ("u", "k"), [(user_id, c.key) for c in part if c.key in held])
        paired, waiting = ledger_rows(user_id, part)
        insert_rows(session, table, PAIRED_COLUMNS, paired)
        insert_rows(session, table, WAITING_COLUMNS, waiting)


def release_over_limit(user_id: int, trakt_changed: bool, held: Callable[[], bool]) -> None:
    """Changes the ratings cap refused go out again once the user may have made room:
    Trakt's ratings changed since the last run, or the hold of a refusal has run out
    (``held``: whether it still holds)."""
    table = _OUTBOX
    where = (table.c.user_id == user_id, table.c.state == OVER_LIMIT)
    session = _session()
    if session.scalar(select(table.c.item_id).where(*where).limit(1)) is None:
        return  # the usual case: a read, not a write, so no write lock on SQLite
    if trakt_changed or not held():
        session.execute(table.update().where(*where).values(state=PENDING, reason=None))


def start_afresh(user_id: int) -> None:
    """Makes the user's next sync a first sync, for a Trakt account other than the one
    the ledger was agreed with: no ledger (Trakt ratings of titles the library lacks
    included: they were the old account's), no marker, and every change Trakt did not
    take offered again. Host ratings stay, and go to the new account. Nothing commits
    here: the caller stores the new account in the same commit."""
    session = _session()
    session.execute(delete(TraktLedger).where(TraktLedger.user_id == user_id))
    table = _OUTBOX
    session.execute(
        table.update()
        .where(table.c.user_id == user_id, table.c.state != PENDING)
        .values(state=PENDING, reason=None)
    )
    conn = connection(user_id)
    if conn is not None:
        conn.ratings_marker = conn.blocked_reason = conn.last_sync_summary = None
        conn.last_sync_at = None
    try:
        extension.state().host.redis.delete(LIMIT_HOLD_KEY.format(user_id=user_id))
    except RedisError:  # the hold only spares a refused write; the next 420 sets it again
        log.warning("could not clear the ratings-limit hold of user %s", user_id)


def resolve_orphans(user_id: int) -> int:
    """Trakt ratings of items that have since arrived in the library reach the host."""
    session = _session()
    host = extension.state().host
    orphans = list(
        session.scalars(
            select(TraktLedger).where(TraktLedger.user_id == user_id, TraktLedger.item_id.is_(None))
        )
    )
    if not orphans:
        return 0
    matches = host.find_media_bulk([ledger_ref(row) for row in orphans])
    held = {r.media.item_id for r in host.list_ratings(user_id)}
    arrived = [(row, match) for row, match in zip(orphans, matches, strict=True) if match]
    # The host finds library items, which always carry their id (None is for what the host
    # does not hold).
    # Host first, ledger after: a crash in between leaves both sides equal, which the next
    # merge records as agreed; the other order would read as a removal on the host.
    writes = [
        RatingWrite(cast(str, match.item_id), row.value, row.rated_at)
        for row, match in arrived
        if match.item_id not in held
    ]
    if writes:
        host.apply_ratings(user_id, writes, SOURCE)
    # Each orphan is read before it is deleted: the host's commit above expired it, and
    # reading it after the delete reloaded it from a row the autoflush had just removed.
    for row, match in arrived:
        if match.item_id not in held:  # else the host has its own: newest wins at the sync
            assert match.item_id is not None  # a library item (above)
            session.add(
                TraktLedger(
                    user_id=user_id,
                    item_key=library_key(match.item_id),
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
        session.delete(row)
    session.commit()
    return len(writes)

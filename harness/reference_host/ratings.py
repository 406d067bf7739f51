"""Rating writes: commit first, then tell the plugins, with the source of the change.

The order matters. A plugin reacting to an event reads the committed state (and a job it
enqueues may run at once in another process), and a plugin that fails must not roll back
the user's rating.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, select, update

from aperture_trakt_plugin.host import RatingChange, RatingWrite
from aperture_trakt_plugin.storage.bulk import execute_rows, insert_rows
from harness.reference_host.db import db
from harness.reference_host.media import (
    FETCH,
    MEDIA,
    REF_COLUMNS,
    get_item,
    known_ids,
    to_ref,
    where_in,
)
from harness.reference_host.models import Rating
from harness.reference_host.plugins import notify, plugin_manager

USER_SOURCE = "aperture"
RATINGS = Rating.__table__
WRITE_CHUNK = 5000
INSERT_COLUMNS = ("user_id", "item_id", "value", "rated_at", "source")


def _check_time(when: datetime) -> None:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: pass timezone-aware UTC")


def apply_rating(
    user_id: int, item_id: str | int, value: int, rated_at: datetime, source: str
) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise ValueError(f"rating must be an integer from 1 to 10, got {value!r}")
    _check_time(rated_at)
    item = get_item(item_id)
    if item is None:
        raise LookupError(f"no media item {item_id!r}")
    rating = db.session.scalar(
        select(Rating).where(Rating.user_id == user_id, Rating.item_id == item.id)
    )
    previous = rating.value if rating else None
    if rating is None:
        rating = Rating(user_id=user_id, item_id=item.id)
        db.session.add(rating)
    rating.value, rating.rated_at, rating.source = value, rated_at, source
    db.session.commit()
    notify(
        plugin_manager(),
        "aperture_rating_changed",
        user_id=user_id,
        media=to_ref(item),
        value=value,
        previous=previous,
        rated_at=rated_at,
        source=source,
    )


def remove_rating(user_id: int, item_id: str | int, removed_at: datetime, source: str) -> bool:
    """Returns whether there was a rating; removing nothing fires no event."""
    _check_time(removed_at)
    item = get_item(item_id)
    if item is None:
        raise LookupError(f"no media item {item_id!r}")
    rating = db.session.scalar(
        select(Rating).where(Rating.user_id == user_id, Rating.item_id == item.id)
    )
    if rating is None:
        return False
    previous = rating.value
    db.session.delete(rating)
    db.session.commit()
    notify(
        plugin_manager(),
        "aperture_rating_removed",
        user_id=user_id,
        media=to_ref(item),
        previous=previous,
        removed_at=removed_at,
        source=source,
    )
    return True


def apply_ratings(user_id: int, writes: Sequence[RatingWrite], source: str) -> None:
    """Bulk sets and removals: one transaction of set-based statements, then one event.

    Built for a first sync, which writes 100,000 ratings here: every write is checked in
    one pass, one query tells which items exist and which the user rates already, and
    the new rows reach the driver as prepared tuples (``insert_rows``) in bounded slices.
    SQLAlchemy's own ``executemany`` of one dict per row spent about four times as long
    preparing the parameters as SQLite spent storing them.
    """
    latest = {int(w.item_id): w for w in writes}  # the last write of an item wins
    for w in latest.values():
        _check_time(w.at)
        if w.value is not None and (isinstance(w.value, bool) or not 1 <= w.value <= 10):
            raise ValueError(f"rating must be an integer from 1 to 10, got {w.value!r}")
    existing = _held(user_id, list(latest))
    removals = [i for i, w in latest.items() if w.value is None and i in existing]
    # In index order: SQLite stores sorted rows about a third faster than shuffled ones.
    sets = [i for i in sorted(latest) if latest[i].value is not None]
    change = (
        update(RATINGS)
        .where(RATINGS.c.id == bindparam("rid"))
        .values(value=bindparam("v"), rated_at=bindparam("at"), source=bindparam("src"))
    )
    for start in range(0, len(sets), WRITE_CHUNK):
        part = [(i, latest[i]) for i in sets[start : start + WRITE_CHUNK]]
        insert_rows(
            db.session,
            RATINGS,
            INSERT_COLUMNS,
            [(user_id, i, w.value, w.at, source) for i, w in part if i not in existing],
        )
        execute_rows(
            db.session,
            change,
            ("rid", "v", "at", "src"),
            [(existing[i][0], w.value, w.at, source) for i, w in part if i in existing],
        )
    for condition in where_in(RATINGS.c.item_id, removals):
        db.session.execute(delete(RATINGS).where(RATINGS.c.user_id == user_id, condition))
    db.session.commit()
    changes = [
        RatingChange(str(item_id), w.value, old[1] if old else None, w.at)
        for item_id, w in latest.items()
        if (old := existing.get(item_id)) is not None or w.value is not None
    ]
    if changes:
        notify(
            plugin_manager(),
            "aperture_ratings_changed",
            user_id=user_id,
            changes=changes,
            source=source,
        )


def _held(user_id: int, item_ids: list[int]) -> dict[int, tuple[int, int]]:
    """The user's rating (row id, value) of each item that has one; ``LookupError`` if
    an item is not in the library. Two queries SQLite answers by itself: how many of the
    items exist (one number, where an outer join sent 100,000 rows back to Python) and
    the user's ratings of them (none at all in a first sync)."""
    found = sum(
        db.session.scalar(select(func.count()).select_from(MEDIA).where(condition))
        for condition in where_in(MEDIA.c.id, item_ids)
    )
    if found < len(item_ids):  # the ids are distinct: fewer found means some are missing
        known = known_ids(item_ids)
        missing = [i for i in item_ids if i not in known]
        raise LookupError(f"no media items {missing[:5]!r}")
    held: dict[int, tuple[int, int]] = {}
    for condition in where_in(RATINGS.c.item_id, item_ids):
        rows = db.session.execute(
            select(RATINGS.c.item_id, RATINGS.c.id, RATINGS.c.value).where(
                RATINGS.c.user_id == user_id, condition
            )
        )
        for part in rows.partitions(FETCH):
            held.update((item_id, (rid, value)) for item_id, rid, value in part)
    return held


def ratings_of(user_id: int) -> list[Rating]:
    return list(
        db.session.scalars(
            select(Rating)
            .where(Rating.user_id == user_id)
            .order_by(Rating.rated_at.desc(), Rating.id.desc())
            .options(db.joinedload(Rating.item))
        )
    )


def rating_rows(user_id: int) -> Iterator[Row[Any]]:
    """``ratings_of`` as plain rows (``REF_COLUMNS``, then user, value, time and source),
    for the contract's ``list_ratings``: a sync reads every rating of a user, and ORM
    objects for 100,000 of them cost seconds and a hundred megabytes. Streamed in slices,
    so the rows are never all held next to the values made of them. In item order, the
    order of the unique (user, item) index the query reads: no sort (the contract asks
    for none; ``ratings_of``, for pages, sorts newest first)."""
    # Core columns only: naming the ORM class's attributes made it an ORM query, whose
    # loading fetched every row at once (40 MB for 100,000) whatever the slices.
    result = db.session.execute(
        select(
            *REF_COLUMNS, RATINGS.c.user_id, RATINGS.c.value, RATINGS.c.rated_at, RATINGS.c.source
        )
        .join(RATINGS, RATINGS.c.item_id == MEDIA.c.id)
        .where(RATINGS.c.user_id == user_id)
        .order_by(RATINGS.c.item_id)
    )
    for part in result.partitions(FETCH):
        yield from part


def rating_values(user_id: int, item_ids: list[int]) -> dict[int, int]:
    if not item_ids:
        return {}
    rows = db.session.execute(
        select(Rating.item_id, Rating.value).where(
            Rating.user_id == user_id, Rating.item_id.in_(item_ids)
        )
    )
    return {item_id: value for item_id, value in rows}

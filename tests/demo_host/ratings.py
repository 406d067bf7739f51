"""Rating writes: commit first, then tell the plugins, with the source of the change.

The order matters. A plugin reacting to an event reads the committed state (and a job it
enqueues may run at once in another process), and a plugin that fails must not roll back
the user's rating.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update

from aperture_trakt_plugin.host import RatingChange, RatingWrite
from tests.demo_host.db import db
from tests.demo_host.media import MEDIA, get_item, known_ids, to_ref, where_in
from tests.demo_host.models import Rating
from tests.demo_host.plugins import notify, plugin_manager

USER_SOURCE = "aperture"
RATINGS = Rating.__table__
WRITE_CHUNK = 5000


def _check_time(when: datetime) -> None:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: pass timezone-aware UTC")


def apply_rating(user_id: int, item_id: str | int, value: int, rated_at: datetime,
                 source: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise ValueError(f"rating must be an integer from 1 to 10, got {value!r}")
    _check_time(rated_at)
    item = get_item(item_id)
    if item is None:
        raise LookupError(f"no media item {item_id!r}")
    rating = db.session.scalar(
        select(Rating).where(Rating.user_id == user_id, Rating.item_id == item.id))
    previous = rating.value if rating else None
    if rating is None:
        rating = Rating(user_id=user_id, item_id=item.id)
        db.session.add(rating)
    rating.value, rating.rated_at, rating.source = value, rated_at, source
    db.session.commit()
    notify(plugin_manager(), "aperture_rating_changed", user_id=user_id, media=to_ref(item),
           value=value, previous=previous, rated_at=rated_at, source=source)


def remove_rating(user_id: int, item_id: str | int, removed_at: datetime, source: str) -> bool:
    """Returns whether there was a rating; removing nothing fires no event."""
    _check_time(removed_at)
    item = get_item(item_id)
    if item is None:
        raise LookupError(f"no media item {item_id!r}")
    rating = db.session.scalar(
        select(Rating).where(Rating.user_id == user_id, Rating.item_id == item.id))
    if rating is None:
        return False
    previous = rating.value
    db.session.delete(rating)
    db.session.commit()
    notify(plugin_manager(), "aperture_rating_removed", user_id=user_id, media=to_ref(item),
           previous=previous, removed_at=removed_at, source=source)
    return True


def apply_ratings(user_id: int, writes: Sequence[RatingWrite], source: str) -> None:
    """Bulk sets and removals: one transaction of set-based statements, then one event.

    Core statements on plain rows, each ``executemany`` fed a bounded slice: a first sync
    writes 100,000 ratings here, and ORM objects (or one dict per row all at once) made
    that the slowest and largest part of it.
    """
    latest = {int(w.item_id): w for w in writes}  # the last write of an item wins
    for w in latest.values():
        _check_time(w.at)
        if w.value is not None and (isinstance(w.value, bool) or not 1 <= w.value <= 10):
            raise ValueError(f"rating must be an integer from 1 to 10, got {w.value!r}")
    ids = list(latest)
    existing: dict[int, tuple[int, int]] = {}
    for condition in where_in(RATINGS.c.item_id, ids):
        rows = db.session.execute(select(RATINGS.c.item_id, RATINGS.c.id, RATINGS.c.value)
                                  .where(RATINGS.c.user_id == user_id, condition))
        existing.update((item_id, (rid, value)) for item_id, rid, value in rows)
    known = known_ids(ids)
    missing = [i for i in ids if i not in known]
    if missing:
        raise LookupError(f"no media items {missing[:5]!r}")
    removals = [i for i, w in latest.items() if w.value is None and i in existing]
    sets = [(i, w) for i, w in latest.items() if w.value is not None]
    change = (update(RATINGS).where(RATINGS.c.id == bindparam("rid"))
              .values(value=bindparam("v"), rated_at=bindparam("at"), source=source))
    for start in range(0, len(sets), WRITE_CHUNK):
        part = sets[start:start + WRITE_CHUNK]
        inserts = [{"user_id": user_id, "item_id": i, "value": w.value, "rated_at": w.at,
                    "source": source} for i, w in part if i not in existing]
        updates = [{"rid": existing[i][0], "v": w.value, "at": w.at}
                   for i, w in part if i in existing]
        if inserts:
            db.session.execute(insert(RATINGS), inserts)
        if updates:
            db.session.execute(change, updates)
    for condition in where_in(RATINGS.c.item_id, removals):
        db.session.execute(delete(RATINGS).where(RATINGS.c.user_id == user_id, condition))
    db.session.commit()
    changes = []
    for item_id, w in latest.items():
        old = existing.get(item_id)
        if w.value is not None or old is not None:  # removing nothing is no change
            changes.append(RatingChange(str(item_id), w.value, old[1] if old else None, w.at))
    if changes:
        notify(plugin_manager(), "aperture_ratings_changed", user_id=user_id,
               changes=changes, source=source)


def ratings_of(user_id: int) -> list[Rating]:
    return list(db.session.scalars(
        select(Rating).where(Rating.user_id == user_id)
        .order_by(Rating.rated_at.desc(), Rating.id.desc())
        .options(db.joinedload(Rating.item))))


def rating_rows(user_id: int) -> list[Row[Any]]:
    """``ratings_of`` as plain rows (the item's columns plus value, time and source), for
    the contract's ``list_ratings``: a sync reads every rating of a user, and ORM objects
    for 100,000 of them cost seconds and a hundred megabytes."""
    return list(db.session.execute(
        select(MEDIA, Rating.user_id, Rating.value, Rating.rated_at, Rating.source)
        .join(Rating, Rating.item_id == MEDIA.c.id).where(Rating.user_id == user_id)
        .order_by(Rating.rated_at.desc(), Rating.id.desc())))


def rating_values(user_id: int, item_ids: list[int]) -> dict[int, int]:
    if not item_ids:
        return {}
    rows = db.session.execute(select(Rating.item_id, Rating.value).where(
        Rating.user_id == user_id, Rating.item_id.in_(item_ids)))
    return {item_id: value for item_id, value in rows}

"""Changing the library after the seed: titles arrive from the catalogue or leave, and
users are deleted. Each change commits, then tells the plugins.

The seed itself fires no events: it stands for a library that existed before any plugin
was installed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select

from aperture_trakt_plugin.host import MediaRef
from harness.reference_host.db import advance_id_sequence, db
from harness.reference_host.media import to_ref
from harness.reference_host.models import MediaItem, Rating, User, WatchRecord
from harness.reference_host.plugins import notify, plugin_manager
from harness.reference_host.seed import library_rows


def catalogue_entry(kind: str, key: str, value: Any) -> dict[str, Any] | None:
    from harness import catalogue

    entries = catalogue.movies() if kind == "movie" else catalogue.shows()
    return next((e for e in entries if (e.get("ids") or {}).get(key) == value), None)


def add_title(kind: str, entry: dict[str, Any]) -> MediaRef:
    """Adds a catalogue movie or show (with its seasons and episodes) to the library."""
    first_id = (db.session.scalar(select(func.max(MediaItem.id))) or 0) + 1
    entry = {**entry, "in_library": True}
    rows = library_rows(
        [entry] if kind == "movie" else [], [entry] if kind == "show" else [], first_id=first_id
    )
    db.session.execute(insert(MediaItem), rows)
    advance_id_sequence(MediaItem.__table__)
    db.session.commit()
    added = to_ref(db.session.get(MediaItem, first_id))
    notify(plugin_manager(), "aperture_library_changed", added=[added], removed=[])
    return added


def _with_descendants(item: MediaItem) -> list[int]:
    ids, frontier = [item.id], [item.id]
    while frontier:
        frontier = list(
            db.session.scalars(select(MediaItem.id).where(MediaItem.parent_id.in_(frontier)))
        )
        ids += frontier
    return ids


def remove_item(item: MediaItem) -> MediaRef:
    """Removes an item, its seasons and episodes, and the ratings and plays of them."""
    removed = to_ref(item)
    ids = _with_descendants(item)
    db.session.execute(delete(Rating).where(Rating.item_id.in_(ids)))
    db.session.execute(delete(WatchRecord).where(WatchRecord.item_id.in_(ids)))
    for item_id in reversed(ids):  # children before parents
        db.session.execute(delete(MediaItem).where(MediaItem.id == item_id))
    db.session.commit()
    notify(plugin_manager(), "aperture_library_changed", added=[], removed=[removed])
    return removed


def delete_user(user: User) -> None:
    user_id = user.id
    db.session.execute(delete(Rating).where(Rating.user_id == user_id))
    db.session.execute(delete(WatchRecord).where(WatchRecord.user_id == user_id))
    db.session.delete(user)
    db.session.commit()
    notify(plugin_manager(), "aperture_user_deleted", user_id=user_id)

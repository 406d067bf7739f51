"""The user's Trakt watchlist as the last refresh read it, with what the library holds.

For the profile card and ``flask trakt watchlist``: the whole list, watched or not, in
Trakt's order (movies, then shows). In Discovery the same list is a source, filtered like
the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.discovery import cache
from aperture_trakt_plugin.discovery.cache import MEDIA_TYPES, user_scope
from aperture_trakt_plugin.discovery.lists import WATCHLIST
from aperture_trakt_plugin.host import ExternalIds, MediaRef


@dataclass(frozen=True)
class WatchlistItem:
    kind: str
    title: str
    year: int | None
    ids: ExternalIds
    in_library: MediaRef | None

    def as_json(self) -> dict[str, Any]:
        ref = self.in_library
        return {
            "kind": self.kind,
            "title": self.title,
            "year": self.year,
            "ids": self.ids._asdict(),
            "in_library": {"item_id": ref.item_id, "title": ref.title} if ref else None,
        }


@dataclass(frozen=True)
class WatchlistSummary:
    items: list[WatchlistItem]
    fetched_at: datetime | None
    error: str | None


def summary(user_id: int) -> WatchlistSummary:
    scopes = [user_scope(user_id, WATCHLIST.name, mt) for mt in MEDIA_TYPES]
    cached = cache.load_many(scopes)
    entries = [e for scope in scopes if scope in cached for e in cached[scope].entries()]
    refs = [MediaRef(kind=e.kind, ids=e.ids) for e in entries]  # type: ignore[arg-type]
    found = extension.state().host.find_media_bulk(refs) if refs else []
    items = [
        WatchlistItem(e.kind, e.title, e.year, e.ids, ref)
        for e, ref in zip(entries, found, strict=True)
    ]
    times = [c.fetched_at for c in cached.values() if c.fetched_at is not None]
    errors = [c.error for c in cached.values() if c.error]
    return WatchlistSummary(items, min(times) if times else None, errors[0] if errors else None)


def watchlist(user_id: int) -> list[WatchlistItem]:
    return summary(user_id).items

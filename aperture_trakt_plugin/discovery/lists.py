"""The Trakt lists discovery offers, in one table: ids, labels, where each is cached, and
the reason a candidate shows when the ranking has nothing better to say about it.

The order here is the order lists are merged in when one ranked list of everything is
built (``flask trakt discover``): the user's own lists first, then the server's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aperture_trakt_plugin.discovery.cache import global_scope, user_scope


@dataclass(frozen=True)
class TraktList:
    id: str  # the DiscoverySource id
    name: str  # the part of the cache scope
    label: str
    scope: Literal["global", "user"]
    reason: str  # shown when the ranking gives none

    def cache_scope(self, user_id: int | None, media_type: str) -> str | None:
        """Where the list is cached; None for a user list asked without a user."""
        if self.scope == "global":
            return global_scope(self.name, media_type)
        return user_scope(user_id, self.name, media_type) if user_id is not None else None


RECOMMENDED = TraktList(
    "trakt-recommended", "recommended", "Trakt Recommended", "user", "Recommended for you by Trakt"
)
WATCHLIST = TraktList(
    "trakt-watchlist", "watchlist", "Your Trakt watchlist", "user", "On your Trakt watchlist"
)
TRENDING = TraktList("trakt-trending", "trending", "Trakt Trending", "global", "Trending on Trakt")
POPULAR = TraktList("trakt-popular", "popular", "Trakt Popular", "global", "Popular on Trakt")
LISTS: tuple[TraktList, ...] = (RECOMMENDED, WATCHLIST, TRENDING, POPULAR)
BY_ID = {trakt_list.id: trakt_list for trakt_list in LISTS}
GLOBAL_LISTS = tuple(t for t in LISTS if t.scope == "global")
#: The source id of the merged list of everything (the CLI's ``discover``).
ALL = "all"

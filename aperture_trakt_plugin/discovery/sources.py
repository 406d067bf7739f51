"""The discovery sources the plugin hands the host (``aperture_discovery_sources``).

Each reads the caches the refresh job fills and nothing else: ``fetch`` never calls
Trakt, as the host contract requires, so a Discovery page costs a few queries however
slow Trakt is. A user the refresh has not ranked yet (or no user) gets the lists in
Trakt's own order.
"""

from __future__ import annotations

from functools import partial

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.discovery.candidates import for_list
from aperture_trakt_plugin.discovery.lists import LISTS, TraktList
from aperture_trakt_plugin.host import DiscoveryCandidate, DiscoverySource


def _fetch(
    trakt_list: TraktList, user_id: int | None, media_type: str, limit: int
) -> list[DiscoveryCandidate]:
    if trakt_list.scope == "user" and user_id is None:
        return []
    return for_list(user_id, trakt_list.id, media_type, limit)


#: The "Not interested" route (``web.discover.hide_title``), for every Trakt list.
HIDE_PATH = extension.URL_PREFIX + "/discover/hide"


def discovery_sources() -> list[DiscoverySource]:
    return [
        DiscoverySource(
            id=t.id, label=t.label, scope=t.scope, fetch=partial(_fetch, t), hide_url=HIDE_PATH
        )
        for t in LISTS
    ]

"""Turning a sync POST body into catalogue items (CONTRACT sections 5 and 6.3).

Bodies hold the arrays ``movies``, ``shows``, ``seasons`` and ``episodes``. A show may nest
``seasons: [{number, episodes: [{number}]}]`` to aim at parts of itself. Each endpoint
then decides what a target means (history expands a show to its episodes, a rating of a
show rates the show). Whatever cannot be matched is kept as a ``Miss``, with the show
(and season) it was nested under, so that ``not_found.py`` can answer it in any of the
shapes Trakt has been seen to use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.trakt_sandbox.media import Catalogue, Media

CATEGORIES = ("movies", "shows", "seasons", "episodes")
# Time fields a nested season or episode inherits from the item around it.
INHERITED = ("rated_at", "watched_at", "listed_at", "collected_at")


@dataclass
class Target:
    media: Media
    fields: dict[str, Any]  # the item that named it (with inherited times)


@dataclass
class Miss:
    """An item that matched nothing, as it was sent, and where it was sent."""

    category: str  # the not_found array it belongs to: movies, shows, seasons, episodes
    item: Any
    show: dict[str, Any] | None = None  # the show item it was nested under, if any
    season: dict[str, Any] | None = None  # and the season entry, for a nested episode


@dataclass
class Resolution:
    targets: list[Target] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)


def _inherit(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    merged = {key: parent[key] for key in INHERITED if key in parent}
    merged.update(child)
    return merged


def resolve(catalogue: Catalogue, payload: Any, own_key: str | None = None) -> Resolution:
    """Match every item of a sync body.

    ``own_key`` is the field that makes a show or season target itself even when it
    nests children (``rating`` for ratings: a show with a rating and seasons rates both).
    """
    result = Resolution()
    if not isinstance(payload, dict):
        return result
    for category in CATEGORIES:
        items = payload.get(category)
        if not isinstance(items, list):
            continue
        kind = category[:-1]
        for item in items:
            media = catalogue.match(kind, item) if isinstance(item, dict) else None
            if media is None:
                result.misses.append(Miss(category, item))
            elif kind == "show" and isinstance(item.get("seasons"), list):
                if own_key and own_key in item:
                    result.targets.append(Target(media, item))
                _resolve_seasons(catalogue, media, item, own_key, result)
            else:
                result.targets.append(Target(media, item))
    return result


def _resolve_seasons(
    catalogue: Catalogue, show: Media, item: dict[str, Any], own_key: str | None, result: Resolution
) -> None:
    for entry in item["seasons"]:
        season = catalogue.season_of(show, entry.get("number")) if isinstance(entry, dict) else None
        if season is None:
            result.misses.append(Miss("seasons", entry, item))
            continue
        entry_fields = _inherit(item, entry)
        episodes = entry.get("episodes")
        if not isinstance(episodes, list) or (own_key and own_key in entry):
            result.targets.append(Target(season, entry_fields))
        for ep_entry in episodes if isinstance(episodes, list) else []:
            episode = (
                catalogue.episode_of(show, season.number, ep_entry.get("number"))
                if isinstance(ep_entry, dict)
                else None
            )
            if episode is None:
                result.misses.append(Miss("episodes", ep_entry, item, entry))
            else:
                result.targets.append(Target(episode, _inherit(entry_fields, ep_entry)))


def counts(keys: tuple[str, ...] = CATEGORIES) -> dict[str, int]:
    return dict.fromkeys(keys, 0)

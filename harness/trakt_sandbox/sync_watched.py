"""``/sync/watched/{movies,shows}``: plays summed per title, as Trakt serves them since
2026-06-30 (CONTRACT 6.7).

* Paginated like the other 📄 lists: 100 items a page by default, most recently watched
  first, ``limit`` clamped at 250, or at 100 with ``extended=progress``.
* A show carries its ``seasons`` only with ``extended=progress``, and season 0 (specials)
  only with ``specials=true`` as well; the default show object is the minimal one plus
  ``aired_episodes`` (#875). No ``images``.
* ``extended=min`` answers instead with compact id maps of everything, unpaginated:
  movies ``{"<trakt id>": [watched_at, ...]}``, shows
  ``{"<show trakt id>": {"<season number>": {"<episode trakt id>": [watched_at, ...]}}}``
  (timestamps newest first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Response

from harness.trakt_sandbox.clock import iso
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.media import Catalogue, Media
from harness.trakt_sandbox.paging import WATCHED, WATCHED_PROGRESS_MAX, paginate
from harness.trakt_sandbox.protocol import (
    current_user,
    error_response,
    extended,
    flag,
    json_response,
    user_required,
)
from harness.trakt_sandbox.state import User
from harness.trakt_sandbox.sync_history import play_time

bp = Blueprint("sync_watched", __name__)


@dataclass
class Watched:
    """The plays of one movie or episode, newest first."""

    media: Media
    times: list[datetime] = field(default_factory=list)

    @property
    def last(self) -> datetime:
        return self.times[0]


def watched_titles(user: User, catalogue: Catalogue, kind: str) -> dict[int, list[Watched]]:
    """Per movie (``kind="movie"``) or per show: what of it was watched, and when."""
    per_media: dict[tuple[str, int], Watched] = {}
    wanted = "movie" if kind == "movie" else "episode"
    for play in user.history:
        if play.key[0] != wanted:
            continue
        entry = per_media.get(play.key)
        if entry is None:
            media = catalogue.get(*play.key)
            if media is None or (wanted == "episode" and media.show is None):
                continue
            entry = per_media[play.key] = Watched(media)
        entry.times.append(play_time(play))
    titles: dict[int, list[Watched]] = {}
    for entry in per_media.values():
        entry.times.sort(reverse=True)
        owner = entry.media if wanted == "movie" else entry.media.show
        titles.setdefault(owner.trakt, []).append(entry)
    return titles


def _number(media: Media) -> int:
    return media.number or 0


def _seasons_block(entries: list[Watched], specials: bool) -> list[dict[str, Any]]:
    block: dict[int, list[dict[str, Any]]] = {}
    for entry in sorted(entries, key=lambda e: (_number(e.media.season), _number(e.media))):
        season = _number(entry.media.season)
        if season == 0 and not specials:
            continue
        block.setdefault(season, []).append(
            {
                "number": _number(entry.media),
                "plays": len(entry.times),
                "last_watched_at": iso(entry.last),
            }
        )
    return [{"number": season, "episodes": episodes} for season, episodes in block.items()]


def watched_items(
    user: User, catalogue: Catalogue, kind: str, full: bool, seasons: bool, specials: bool
) -> list[dict[str, Any]]:
    """The array form, most recently watched first (ties: lower Trakt id first)."""
    items = []
    for trakt, entries in watched_titles(user, catalogue, kind).items():
        title = catalogue.get(kind, trakt)
        last = max(entry.last for entry in entries)
        item: dict[str, Any] = {
            "plays": sum(len(entry.times) for entry in entries),
            "last_watched_at": iso(last),
            "last_updated_at": iso(last),
        }
        if kind == "movie":
            item["movie"] = title.obj(full)
        else:
            item["reset_at"] = None
            item["show"] = (
                title.obj(True)
                if full
                else {**title.minimal, "aired_episodes": title.episode_count()}
            )
            if seasons:
                item["seasons"] = _seasons_block(entries, specials)
        items.append((last, -trakt, item))
    items.sort(key=lambda entry: entry[:2], reverse=True)
    return [item for _, _, item in items]


def watched_map(user: User, catalogue: Catalogue, kind: str) -> dict[str, Any]:
    """The ``extended=min`` form: ids to timestamps, every title, no paging."""
    titles = watched_titles(user, catalogue, kind)
    if kind == "movie":
        return {str(trakt): [iso(t) for t in entries[0].times] for trakt, entries in titles.items()}
    shows: dict[str, Any] = {}
    for trakt, entries in titles.items():
        seasons: dict[str, dict[str, list[str]]] = shows.setdefault(str(trakt), {})
        for entry in entries:
            season = seasons.setdefault(str(_number(entry.media.season)), {})
            season[str(entry.media.trakt)] = [iso(t) for t in entry.times]
    return shows


def watched_response(user: User, type_: str) -> Response:
    """For ``/sync/watched/...`` and ``/users/{id}/watched/...`` alike."""
    kinds = {"movies": "movie", "shows": "show"}
    if type_ not in kinds:
        return error_response(404, "not_found", f"unknown type {type_!r}")
    levels = extended()
    sb = sandbox()
    if "min" in levels:
        with sb.state.lock:
            return json_response(watched_map(user, sb.catalogue, kinds[type_]))
    progress = "progress" in levels
    with sb.state.lock:
        items = watched_items(
            user, sb.catalogue, kinds[type_], "full" in levels, progress, flag("specials")
        )
    policy = WATCHED.clamped(WATCHED_PROGRESS_MAX) if progress else WATCHED
    page, headers = paginate(items, policy)
    return json_response(page, 200, headers)


@bp.get("/sync/watched/<type_>")
@user_required
def list_watched(type_: str) -> Response:
    return watched_response(current_user(), type_)

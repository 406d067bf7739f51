"""The sandbox's media index: Trakt ids, slugs and rendered objects for every title.

The titles come from the shared catalogue (the same real titles the reference host's
library holds, plus some it lacks). Trakt ids and slugs are assigned here by catalogue
order, so they are stable across restarts; seasons and episodes are synthesised with their
own ids. Minimal and ``extended=full`` objects are rendered once at start-up, so answering
a GET never formats metadata again.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

KINDS = ("movie", "show", "season", "episode")
PLURAL = {"movie": "movies", "show": "shows", "season": "seasons", "episode": "episodes"}
SINGULAR = {plural: kind for kind, plural in PLURAL.items()}
# Which external ids each kind carries in responses (CONTRACT section 5).
ID_KEYS = {
    "movie": ("trakt", "slug", "imdb", "tmdb"),
    "show": ("trakt", "slug", "tvdb", "imdb", "tmdb"),
    "season": ("trakt", "tvdb", "tmdb"),
    "episode": ("trakt", "tvdb", "imdb", "tmdb"),
}
# Sync bodies are matched by id in this order (CONTRACT section 5).
MATCH_ORDER = ("trakt", "imdb", "tmdb", "tvdb", "slug")
INT_IDS = frozenset({"trakt", "tmdb", "tvdb"})

MOVIE_BASE = 10_000
SHOW_BASE = 20_000
UPDATED_AT = "2026-01-05T09:00:00.000Z"
CERTIFICATIONS = {"movie": ("G", "PG", "PG-13", "R"), "show": ("TV-PG", "TV-14", "TV-MA")}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def stable_hash(text: str) -> int:
    """A hash that, unlike ``hash()``, is the same in every process."""
    return zlib.crc32(text.encode("utf-8"))


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "untitled"


@dataclass(eq=False, slots=True)
class Media:
    """One movie, show, season or episode with its pre-rendered response objects."""

    kind: str
    trakt: int
    title: str
    year: int | None
    ids: dict[str, Any]
    genres: tuple[str, ...] = ()
    runtime: int = 0
    rating: float = 0.0
    votes: int = 0
    watchers: int = 0
    released: str | None = None
    in_library: bool = False
    number: int | None = None
    show: Media | None = None
    season: Media | None = None
    children: list[Media] = field(default_factory=list)
    minimal: dict[str, Any] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.kind, self.trakt)

    def obj(self, full: bool = False, images: str | None = None) -> dict[str, Any]:
        """The response object; ``images`` (a host) adds Trakt's ``images`` object."""
        found = self.full if full else self.minimal
        return {**found, "images": image_urls(self, images)} if images else found

    def episodes(self) -> Iterator[Media]:
        """Every episode under a show or season (an episode yields itself)."""
        if self.kind == "episode":
            yield self
        elif self.kind == "season":
            yield from self.children
        elif self.kind == "show":
            for season in self.children:
                yield from season.children

    def episode_count(self) -> int:
        return sum(1 for _ in self.episodes())


def media_fields(media: Media, full: bool = False, images: str | None = None) -> dict[str, Any]:
    """The keys a sync item carries for its media: ``movie``, or ``episode`` + ``show``..."""
    fields = {media.kind: media.obj(full, images)}
    if media.show is not None:
        fields["show"] = media.show.obj(full, images)
    return fields


NO_POSTER_ONE_IN = 8  # about one title in 8 has no poster: on Trakt too, some have none
IMAGE_KINDS = ("fanart", "poster", "logo", "clearart", "banner", "thumb")


def has_poster(media: Media) -> bool:
    return media.kind in ("movie", "show") and bool(
        stable_hash(f"poster:{media.kind}:{media.trakt}") % NO_POSTER_ONE_IN
    )


def poster_path(media: Media) -> str:
    return f"/images/{PLURAL[media.kind]}/{media.trakt}/poster.svg"


def image_urls(media: Media, host: str) -> dict[str, list[str]]:
    """Trakt's ``images`` object: each kind a list of URLs without a scheme, as Trakt
    sends them (``media.trakt.tv/images/...``). Only posters, and only for titles,
    which is what a discovery page shows."""
    found: dict[str, list[str]] = {kind: [] for kind in IMAGE_KINDS}
    if has_poster(media):
        found["poster"] = [f"{host}{poster_path(media)}"]
    return found


class Catalogue:
    """Lookup by any id, by path id and by title; ranked lists for discovery."""

    def __init__(self, movies: list[dict[str, Any]], shows: list[dict[str, Any]]) -> None:
        self.movies: list[Media] = []
        self.shows: list[Media] = []
        self._by_id: dict[tuple[str, str], dict[Any, Media]] = {
            (kind, key): {} for kind in KINDS for key in (*ID_KEYS[kind], "slug")
        }
        self._by_title: dict[str, dict[tuple[str, int | None], Media]] = {"movie": {}, "show": {}}
        self._by_latest_title: dict[str, dict[str, Media]] = {"movie": {}, "show": {}}
        slugs: set[str] = set()
        for index, raw in enumerate(movies):
            self._add(self._movie(index, raw, slugs))
        for index, raw in enumerate(shows):
            show = self._show(index, raw, slugs)
            self._add(show)
            for season in show.children:
                self._add(season)
                for episode in season.children:
                    self._add(episode)
        self.trending = {
            "movie": sorted(self.movies, key=lambda m: (-m.watchers, m.trakt)),
            "show": sorted(self.shows, key=lambda m: (-m.watchers, m.trakt)),
        }
        self.popular = {
            "movie": sorted(self.movies, key=_popularity),
            "show": sorted(self.shows, key=_popularity),
        }
        # Unfiltered trending and popular answers, serialised on first use by discovery.py
        # (key: list, kind, page window, extended=full): the titles never change.
        self.discovery_pages: dict[tuple[Any, ...], tuple[bytes, dict[str, str]]] = {}

    # -- lookups -----------------------------------------------------------------------
    def get(self, kind: str, trakt: int) -> Media | None:
        return self._by_id[(kind, "trakt")].get(trakt)

    def by_external(self, kind: str, key: str, value: Any) -> Media | None:
        table = self._by_id.get((kind, key))
        if table is None or value is None or value == "":
            return None
        if key in INT_IDS:
            try:
                value = int(value)
            except (TypeError, ValueError):
                return None
        return table.get(value)

    def from_path(self, kind: str, value: str) -> Media | None:
        """Path ids may be a Trakt id, a slug or an IMDB id (CONTRACT section 5)."""
        if value.isdigit():
            return self.get(kind, int(value))
        if value.startswith("tt"):
            found = self.by_external(kind, "imdb", value)
            if found is not None:
                return found
        return self.by_external(kind, "slug", value)

    def match(self, kind: str, item: dict[str, Any]) -> Media | None:
        """Resolve a sync body item: ids in Trakt's order, then title + year, then title."""
        ids = item.get("ids")
        if isinstance(ids, dict):
            for key in MATCH_ORDER:
                found = self.by_external(kind, key, ids.get(key))
                if found is not None:
                    return found
        title = item.get("title")
        if kind in self._by_title and isinstance(title, str) and title:
            found = self._by_title[kind].get((title.lower(), item.get("year")))
            return found or self._by_latest_title[kind].get(title.lower())
        return None

    def season_of(self, show: Media, number: Any) -> Media | None:
        return next((s for s in show.children if s.number == number), None)

    def episode_of(self, show: Media, season: Any, number: Any) -> Media | None:
        found = self.season_of(show, season)
        if found is None:
            return None
        return next((e for e in found.children if e.number == number), None)

    # -- construction -------------------------------------------------------------------
    def _add(self, media: Media) -> None:
        for key, value in media.ids.items():
            table = self._by_id.get((media.kind, key))
            if table is not None and value not in (None, ""):
                table[value] = media
        if media.kind in self._by_title:
            self._by_title[media.kind][(media.title.lower(), media.year)] = media
            latest = self._by_latest_title[media.kind].get(media.title.lower())
            if latest is None or (media.year or 0) >= (latest.year or 0):
                self._by_latest_title[media.kind][media.title.lower()] = media
        if media.kind == "movie":
            self.movies.append(media)
        elif media.kind == "show":
            self.shows.append(media)

    @staticmethod
    def _unique_slug(base: str, year: int | None, slugs: set[str], trakt: int) -> str:
        for candidate in (base, f"{base}-{year}" if year else base, f"{base}-{trakt}"):
            if candidate not in slugs:
                slugs.add(candidate)
                return candidate
        raise ValueError(f"cannot give {base!r} a unique slug")

    def _movie(self, index: int, raw: dict[str, Any], slugs: set[str]) -> Media:
        trakt = MOVIE_BASE + index + 1
        title, year = str(raw["title"]), raw.get("year")
        # Trakt always suffixes movie slugs with the year.
        slug = self._unique_slug(f"{slugify(title)}-{year}", None, slugs, trakt)
        ext = raw.get("ids") or {}
        ids = {"trakt": trakt, "slug": slug, "imdb": ext.get("imdb"), "tmdb": ext.get("tmdb")}
        media = Media("movie", trakt, title, year, ids, **_figures(slug, raw, 100))
        media.released = _release_date(slug, year)
        media.minimal = {"title": title, "year": year, "ids": ids}
        media.full = _movie_full(media)
        return media

    def _show(self, index: int, raw: dict[str, Any], slugs: set[str]) -> Media:
        trakt = SHOW_BASE + index + 1
        title, year = str(raw["title"]), raw.get("year")
        slug = self._unique_slug(slugify(title), year, slugs, trakt)
        ext = raw.get("ids") or {}
        ids = {
            "trakt": trakt,
            "slug": slug,
            "tvdb": ext.get("tvdb"),
            "imdb": ext.get("imdb"),
            "tmdb": ext.get("tmdb"),
        }
        show = Media("show", trakt, title, year, ids, **_figures(slug, raw, 45))
        show.released = f"{year or 2000}-01-10T01:00:00.000Z"
        for season_raw in raw.get("seasons") or []:
            show.children.append(_season(show, index, season_raw))
        show.minimal = {"title": title, "year": year, "ids": ids}
        show.full = _show_full(show, raw)
        return show


def _popularity(media: Media) -> tuple[float, int]:
    """Rating weighted by the number of votes, as Trakt describes its popular lists."""
    return (-media.rating * math.log10(media.votes + 10), media.trakt)


def _figures(slug: str, raw: dict[str, Any], default_runtime: int) -> dict[str, Any]:
    """Plausible, deterministic community figures (nobody rates sandbox titles)."""
    h = stable_hash(slug)
    return {
        "genres": tuple(str(g).lower() for g in raw.get("genres") or ()),
        "runtime": int(raw.get("runtime") or default_runtime),
        "rating": round(5.5 + (h % 4000) / 1000, 5),
        "votes": 500 + (h >> 8) % 60_000,
        "watchers": 3 + (h >> 4) % 400,
        "in_library": bool(raw.get("in_library")),
    }


def _release_date(slug: str, year: int | None) -> str:
    h = stable_hash(slug + ":released")
    return f"{year or 2000:04d}-{1 + h % 12:02d}-{1 + (h >> 4) % 28:02d}"


def _common_full(media: Media, kind: str) -> dict[str, Any]:
    h = stable_hash(media.ids.get("slug") or str(media.trakt))
    return {
        "title": media.title,
        "year": media.year,
        "ids": media.ids,
        "tagline": f"The sandbox presents {media.title}.",
        "overview": f"{media.title} ({media.year}), served by the local Trakt sandbox.",
        "runtime": media.runtime,
        "country": "us",
        "trailer": f"https://youtube.com/watch?v=sandbox{h % 100000:05d}",
        "homepage": f"https://example.com/{kind}s/{media.ids.get('slug')}",
        "rating": media.rating,
        "votes": media.votes,
        "comment_count": h % 300,
        "updated_at": UPDATED_AT,
        "language": "en",
        "languages": ["en"],
        "available_translations": ["en", "de", "fr"],
        "genres": list(media.genres),
        "subgenres": [],
        "certification": CERTIFICATIONS[kind][h % len(CERTIFICATIONS[kind])],
        "original_title": media.title,
        "social_ids": {"twitter": None, "facebook": None, "instagram": None, "wikipedia": None},
    }


def _movie_full(movie: Media) -> dict[str, Any]:
    return {
        **_common_full(movie, "movie"),
        "released": movie.released,
        "status": "released",
        "after_credits": False,
        "during_credits": False,
    }


def _show_full(show: Media, raw: dict[str, Any]) -> dict[str, Any]:
    h = stable_hash(show.ids["slug"] + ":airs")
    episodes = show.episode_count()
    return {
        **_common_full(show, "show"),
        "first_aired": show.released,
        "airs": {
            "day": WEEKDAYS[h % 7],
            "time": f"{18 + h % 5:02d}:00",
            "timezone": "America/New_York",
        },
        "network": str(raw.get("network") or "Sandbox TV"),
        "status": "ended" if (show.year or 0) < 2015 else "returning series",
        "aired_episodes": episodes,
        "total_runtime": episodes * show.runtime,
    }


def _season(show: Media, show_index: int, raw: Any) -> Media:
    """Seasons and episodes get synthetic but stable ids derived from their position."""
    number = int(raw["number"]) if isinstance(raw, dict) else int(raw)
    episodes_raw = raw.get("episodes", 0) if isinstance(raw, dict) else 0
    count = len(episodes_raw) if isinstance(episodes_raw, list) else int(episodes_raw)
    position = show_index * 100 + number
    ids = {"trakt": 300_000 + position, "tvdb": 400_000 + position, "tmdb": 500_000 + position}
    season = Media(
        "season",
        ids["trakt"],
        f"Season {number}",
        show.year,
        ids,
        runtime=show.runtime,
        rating=show.rating,
        votes=show.votes // 10,
        number=number,
        show=show,
        in_library=show.in_library,
    )
    season.released = f"{(show.year or 2000) + max(number - 1, 0):04d}-01-10T01:00:00.000Z"
    for ep_number in range(1, count + 1):
        season.children.append(_episode(season, position, ep_number))
    season.minimal = {"number": number, "ids": ids}
    season.full = {
        "number": number,
        "ids": ids,
        "rating": season.rating,
        "votes": season.votes,
        "episode_count": count,
        "aired_episodes": count,
        "title": season.title,
        "overview": f"Season {number} of {show.title}.",
        "first_aired": season.released,
        "updated_at": UPDATED_AT,
        "network": "Sandbox TV",
        "original_title": season.title,
    }
    return season


def _episode(season: Media, position: int, number: int) -> Media:
    show = season.show
    assert show is not None
    offset = position * 1000 + number
    ids = {
        "trakt": 1_000_000 + offset,
        "tvdb": 50_000_000 + offset,
        "imdb": None,
        "tmdb": 60_000_000 + offset,
    }
    title = f"Episode {number}"
    episode = Media(
        "episode",
        ids["trakt"],
        title,
        show.year,
        ids,
        runtime=show.runtime,
        rating=show.rating,
        votes=show.votes // 100,
        number=number,
        show=show,
        season=season,
        in_library=show.in_library,
    )
    year = int(str(season.released)[:4])
    day = min(number - 1, 50) * 7
    month, dom = 1 + day // 28 % 12, 1 + day % 28
    episode.released = f"{year:04d}-{month:02d}-{dom:02d}T01:00:00.000Z"
    episode.minimal = {"season": season.number, "number": number, "title": title, "ids": ids}
    episode_type = "season_premiere" if number == 1 else "standard"
    episode.full = {
        **episode.minimal,
        "number_abs": None,
        "overview": f"{title} of season {season.number} of {show.title}.",
        "rating": episode.rating,
        "votes": episode.votes,
        "comment_count": 0,
        "first_aired": episode.released,
        "updated_at": UPDATED_AT,
        "available_translations": ["en"],
        "runtime": episode.runtime,
        "episode_type": episode_type,
        "original_title": title,
    }
    return episode

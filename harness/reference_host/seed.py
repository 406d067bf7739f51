"""Demo users and the library, seeded from the project's catalogue of real titles.

Inserts are bulk statements with ids assigned here, because the test suite builds a
fresh app (and so a fresh library of thousands of rows with episodes) for many tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select

from harness.reference_host.db import advance_id_sequence, db, utcnow
from harness.reference_host.models import MediaItem, User, WatchRecord

DEMO_USERS = (("admin", True), ("alice", False), ("bob", False))
# A little watch history so discovery and the plugin have something to read.
DEMO_WATCHES = {
    "alice": (
        (27205, "2024-03-02T20:15:00"),
        (550, "2024-03-09T21:00:00"),
        (680, "2024-04-13T19:30:00"),
    ),
    "bob": ((278, "2024-02-17T18:45:00"), (13, "2024-05-01T20:00:00")),
}


@dataclass
class SeedReport:
    users: int = 0
    items: int = 0
    watches: int = 0


def _season_episode_counts(show: dict[str, Any]) -> Iterable[tuple[int, int]]:
    for season in show.get("seasons") or []:
        episodes = season.get("episodes") or 0
        count = len(episodes) if isinstance(episodes, list) else int(episodes)
        yield int(season["number"]), count


def library_rows(
    movies: Iterable[dict[str, Any]], shows: Iterable[dict[str, Any]], first_id: int = 1
) -> list[dict[str, Any]]:
    """Rows for every in-library title; seasons and episodes carry their show's ids."""
    rows: list[dict[str, Any]] = []
    next_id = first_id

    def add(**row: Any) -> int:
        nonlocal next_id
        rows.append(
            {"id": next_id, "parent_id": None, "season_number": None, "episode_number": None, **row}
        )
        next_id += 1
        return next_id - 1

    for movie in movies:
        if movie.get("in_library"):
            ids = movie.get("ids") or {}
            add(
                kind="movie",
                title=movie["title"],
                year=movie.get("year"),
                tmdb=ids.get("tmdb"),
                imdb=ids.get("imdb"),
                tvdb=None,
            )
    for show in shows:
        if not show.get("in_library"):
            continue
        ids = show.get("ids") or {}
        show_ids = {"tmdb": ids.get("tmdb"), "imdb": ids.get("imdb"), "tvdb": ids.get("tvdb")}
        show_id = add(kind="show", title=show["title"], year=show.get("year"), **show_ids)
        for number, count in _season_episode_counts(show):
            season_id = add(
                kind="season",
                title=f"{show['title']}: Season {number}",
                year=None,
                parent_id=show_id,
                season_number=number,
                **show_ids,
            )
            for episode in range(1, count + 1):
                add(
                    kind="episode",
                    title=f"{show['title']} S{number:02d}E{episode:02d}",
                    year=None,
                    parent_id=season_id,
                    season_number=number,
                    episode_number=episode,
                    **show_ids,
                )
    return rows


def seed_users() -> int:
    existing = set(db.session.scalars(select(User.name)))
    missing = [
        {"name": name, "is_admin": admin, "created_at": utcnow()}
        for name, admin in DEMO_USERS
        if name not in existing
    ]
    if missing:
        db.session.execute(insert(User), missing)
    return len(missing)


def seed_library() -> int:
    """Fills an empty library; a library that has items is left as it is."""
    if db.session.scalar(select(func.count()).select_from(MediaItem)):
        return 0
    from harness import catalogue

    rows = library_rows(catalogue.movies(), catalogue.shows())
    if rows:
        db.session.execute(insert(MediaItem), rows)
        advance_id_sequence(MediaItem.__table__)
    return len(rows)


def seed_watches() -> int:
    if db.session.scalar(select(func.count()).select_from(WatchRecord)):
        return 0
    users = dict(db.session.execute(select(User.name, User.id)).all())
    tmdbs = {tmdb for watches in DEMO_WATCHES.values() for tmdb, _ in watches}
    movies = dict(
        db.session.execute(
            select(MediaItem.tmdb, MediaItem.id).where(
                MediaItem.kind == "movie", MediaItem.tmdb.in_(tmdbs)
            )
        ).all()
    )
    rows = [
        {
            "user_id": users[name],
            "item_id": movies[tmdb],
            "watched_at": datetime.fromisoformat(at).replace(tzinfo=UTC),
        }
        for name, watches in DEMO_WATCHES.items()
        if name in users
        for tmdb, at in watches
        if tmdb in movies
    ]
    if rows:
        db.session.execute(insert(WatchRecord), rows)
    return len(rows)


def seed() -> SeedReport:
    """Idempotent: running it again adds only what is missing."""
    report = SeedReport(users=seed_users(), items=seed_library())
    report.watches = seed_watches()
    db.session.commit()
    return report


def is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))

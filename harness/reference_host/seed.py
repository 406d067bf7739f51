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
from harness.reference_host.models import MediaItem, Rating, User, WatchRecord

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

# Other people on the demo server and their ratings (TMDB id: rating), seeded with
# DEMO_SEED_RATINGS (the demo sets it; the tests' hosts stay with the three users above).
# Each rated some of what alice watched here or rated on Trakt (Inception, Fight Club,
# Pulp Fiction; Rear Window, The Wizard of Oz, Casablanca) as she did, loved some titles
# on Trakt's trending and popular lists and disliked others: so her Discovery shows
# "people here who rated it ..." from the first visit. Every title is in the library.
DEMO_RATERS = {
    "carol": {
        27205: 9,
        550: 8,
        680: 9,
        567: 10,
        630: 9,
        141: 9,
        7345: 10,
        274: 9,
        808: 3,
        68721: 4,
        9390: 5,
    },
    "dave": {
        27205: 10,
        680: 8,
        567: 9,
        289: 8,
        141: 8,
        670: 9,
        1538: 9,
        274: 10,
        808: 4,
        2108: 5,
        284054: 4,
    },
    "erin": {550: 9, 680: 10, 567: 9, 630: 8, 389: 8, 7345: 9, 670: 10, 1091: 9, 9390: 3, 68721: 3},
    "frank": {
        27205: 8,
        550: 9,
        567: 10,
        630: 10,
        141: 10,
        9693: 9,
        1538: 8,
        274: 8,
        808: 2,
        284054: 5,
    },
    "grace": {
        27205: 9,
        680: 9,
        289: 9,
        567: 8,
        7345: 8,
        670: 8,
        9693: 10,
        1091: 8,
        2108: 4,
        9390: 4,
    },
}
RATED_AT = datetime(2024, 6, 1, 20, 0, tzinfo=UTC)


@dataclass
class SeedReport:
    users: int = 0
    items: int = 0
    watches: int = 0
    ratings: int = 0


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


def seed_users(raters: bool = False) -> int:
    existing = set(db.session.scalars(select(User.name)))
    wanted = [*DEMO_USERS, *((name, False) for name in DEMO_RATERS if raters)]
    missing = [
        {"name": name, "is_admin": admin, "created_at": utcnow()}
        for name, admin in wanted
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


def movie_ids(tmdbs: set[int]) -> dict[int, int]:
    """TMDB id → library item id of the library's movies among ``tmdbs``."""
    rows = db.session.execute(
        select(MediaItem.tmdb, MediaItem.id).where(
            MediaItem.kind == "movie", MediaItem.tmdb.in_(tmdbs)
        )
    )
    return {tmdb: item_id for tmdb, item_id in rows.all()}


def seed_watches() -> int:
    if db.session.scalar(select(func.count()).select_from(WatchRecord)):
        return 0
    users = dict(db.session.execute(select(User.name, User.id)).all())
    tmdbs = {tmdb for watches in DEMO_WATCHES.values() for tmdb, _ in watches}
    movies = movie_ids(tmdbs)
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


def seed_ratings() -> int:
    """The other people's ratings, for raters who have none yet. Straight inserts, as a
    server's ratings from before the plugin: no plugin hears of them."""
    users = dict(db.session.execute(select(User.name, User.id)).all())
    raters = [users[name] for name in DEMO_RATERS if name in users]
    done = set(db.session.scalars(select(Rating.user_id).where(Rating.user_id.in_(raters))))
    tmdbs = {tmdb for rated in DEMO_RATERS.values() for tmdb in rated}
    movies = movie_ids(tmdbs)
    rows = [
        {
            "user_id": users[name],
            "item_id": movies[tmdb],
            "value": value,
            "rated_at": RATED_AT,
            "source": "aperture",
        }
        for name, rated in DEMO_RATERS.items()
        if name in users and users[name] not in done
        for tmdb, value in rated.items()
        if tmdb in movies
    ]
    if rows:
        db.session.execute(insert(Rating), rows)
    return len(rows)


def seed(raters: bool = False) -> SeedReport:
    """Idempotent: running it again adds only what is missing. ``raters`` adds the other
    people of ``DEMO_RATERS`` and their ratings."""
    report = SeedReport(users=seed_users(raters), items=seed_library())
    report.watches = seed_watches()
    if raters:
        report.ratings = seed_ratings()
    db.session.commit()
    return report


def is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))

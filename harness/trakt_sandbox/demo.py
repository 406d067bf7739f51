"""Demo users with believable accounts, so ``make demo`` shows a lived-in Trakt.

Deterministic: the same catalogue gives the same ratings, plays and watchlists, with
dates counted back from the moment of seeding.
"""

from __future__ import annotations

from datetime import timedelta

from harness.trakt_sandbox.clock import truncate_ms
from harness.trakt_sandbox.media import Media
from harness.trakt_sandbox.state import Listed, Play, Rated, SandboxState, User

DEMO_USERS = {
    # username: (vip, rating pattern, offset into the catalogue)
    "alice_trakt": (False, (9, 7, 8, 10, 6, 8, 5, 9, 7), 0),
    "bob_trakt": (True, (6, 8, 4, 7, 9, 3, 8, 6, 10), 3),
    "carol_trakt": (False, (10, 9, 8, 8, 7), 6),
}


def _rotate(items: list[Media], offset: int) -> list[Media]:
    if not items:
        return []
    offset %= len(items)
    return items[offset:] + items[:offset]


def seed_user(state: SandboxState, user: User, pattern: tuple[int, ...], offset: int) -> None:
    now = truncate_ms(state.clock.now())
    movies = _rotate(state.catalogue.movies, offset)
    shows = _rotate(state.catalogue.shows, offset)
    owned = [m for m in movies if m.in_library]
    missing = [m for m in movies if not m.in_library]
    rated: list[Media] = owned[: len(pattern) - 2] + missing[:1] + shows[:1]
    for days, (media, value) in enumerate(zip(rated, pattern, strict=False)):
        user.ratings[media.key] = Rated(value, now - timedelta(days=3 * days + 1, hours=days))
    for days, media in enumerate(owned[:5]):
        user.history.append(
            Play(state.next_id("history"), media.key, now - timedelta(days=3 * days + 1, hours=2))
        )
    if shows and shows[0].children:
        season = shows[0].children[0]
        user.ratings[season.key] = Rated(pattern[0], now - timedelta(days=2))
        for number, episode in enumerate(season.children):
            user.history.append(
                Play(state.next_id("history"), episode.key, now - timedelta(days=40 - number))
            )
        if season.children:
            user.ratings[season.children[0].key] = Rated(pattern[-1], now - timedelta(days=39))
    wanted = [*missing[1:4], *shows[1:3]]
    for hours, media in enumerate(wanted):
        user.watchlist[media.key] = Listed(
            state.next_id("list"), now - timedelta(days=1, hours=hours)
        )
    user.activities.touch(
        now,
        "movies.rated_at",
        "shows.rated_at",
        "seasons.rated_at",
        "episodes.rated_at",
        "movies.watched_at",
        "episodes.watched_at",
        "movies.watchlisted_at",
        "shows.watchlisted_at",
        "watchlist.updated_at",
    )


def seed_demo_users(state: SandboxState) -> None:
    with state.lock:
        for username, (vip, pattern, offset) in DEMO_USERS.items():
            user = state.ensure_user(username, vip=vip)
            seed_user(state, user, pattern, offset)

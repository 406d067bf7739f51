"""Discovery reads Trakt's paged lists to the end (CONTRACT 6.6, 6.7, 8), against a sandbox
that pages as Trakt does in late 2026: the first 100 items when not asked for pages,
``limit`` clamped at 250, ``X-Pagination-*`` headers.

The shared catalogue (``harness/catalogue``) holds 323 movies, too few for 1,200 watched
ones, so this module starts its own sandbox on a catalogue of synthetic movies (the
sandbox's ``SANDBOX_CATALOGUE`` setting, as the benchmarks do) plus the shared shows.
Its titles are not in the host's library, which discovery does not need.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aperture_trakt_plugin.discovery import cache, refresh, watchlist
from aperture_trakt_plugin.discovery.cache import global_scope, user_scope
from aperture_trakt_plugin.discovery.candidates import WATCHED
from aperture_trakt_plugin.trakt.paging import PAGE_LIMIT
from harness import catalogue
from harness.services import WSGIServerThread
from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl
from tests.connect_helpers import configure_trakt, connect_with_tokens, trakt_host_config, user_id

MOVIES = 1_900
WATCHLIST_MOVIES, WATCHLIST_SHOWS = 540, 60  # 600 titles: 3 pages of movies, 1 of shows
WATCHED_MOVIES, WATCHED_SHOWS = 1_200, 7  # 5 pages of movies
TRENDING = 300  # more than one page of 250
FIRST_WATCHED = WATCHLIST_MOVIES  # the watched movies follow the watchlist's
TRAKT_USER = "pager_trakt"
TMDB_BASE, IMDB_BASE = 7_000_000, 70_000_000


def movie_ids(index: int) -> dict[str, Any]:
    return {"tmdb": TMDB_BASE + index, "imdb": f"tt{IMDB_BASE + index}"}


@pytest.fixture(scope="module")
def big_server() -> Iterator[WSGIServerThread]:
    movies = [
        {
            "title": f"Paged Movie {i}",
            "year": 1950 + i % 70,
            "ids": movie_ids(i),
            "in_library": False,
        }
        for i in range(MOVIES)
    ]
    app = create_app({"SANDBOX_CATALOGUE": {"movies": movies, "shows": catalogue.shows()}})
    with WSGIServerThread(app) as thread:
        yield thread


@pytest.fixture()
def big_sandbox(big_server) -> Iterator[SandboxControl]:
    control = SandboxControl(big_server.url)
    control.reset()
    yield control
    control.http.close()


@pytest.fixture()
def host_config(big_server) -> dict[str, Any]:
    return trakt_host_config(big_server, APERTURE_TRAKT_DISCOVERY_LIST_SIZE=TRENDING)


@pytest.fixture()
def pager(host_app, big_sandbox) -> int:
    """A connected user whose Trakt lists are long: 600 titles on the watchlist (the
    shows last on it), 1,200 watched movies and a few watched shows."""
    shows = [show["ids"] for show in catalogue.shows()]
    big_sandbox.set_watchlist(
        TRAKT_USER,
        [
            *({"type": "movie", "movie": {"ids": movie_ids(i)}} for i in range(WATCHLIST_MOVIES)),
            *({"type": "show", "show": {"ids": ids}} for ids in shows[:WATCHLIST_SHOWS]),
        ],
    )
    first = FIRST_WATCHED
    big_sandbox.set_history(
        TRAKT_USER,
        [
            *({"movie": {"ids": movie_ids(i)}} for i in range(first, first + WATCHED_MOVIES)),
            *({"show": {"ids": ids}} for ids in shows[:WATCHED_SHOWS]),
        ],
    )
    configure_trakt(host_app, big_sandbox)
    connect_with_tokens(host_app, big_sandbox, "alice", TRAKT_USER)
    big_sandbox.clear_requests()
    return user_id(host_app, "alice")


def pages_asked(sandbox: SandboxControl, path: str) -> list[tuple[str, str]]:
    return [
        (r["query"].get("page"), r["query"].get("limit"))
        for r in sandbox.requests(method="GET", path=path)
    ]


def test_every_page_of_a_long_watchlist_and_watch_history_is_read(host_app, pager, big_sandbox):
    with host_app.app_context():
        result = refresh.refresh([pager], global_lists=False)
        assert not result.errors, result.errors
        listed = watchlist.watchlist(pager)
        watched = cache.load(user_scope(pager, WATCHED))
    assert len(listed) == WATCHLIST_MOVIES + WATCHLIST_SHOWS
    on_trakt = big_sandbox.watchlist(TRAKT_USER)  # the whole list, in Trakt's order
    assert [(item.kind, item.ids.tmdb) for item in listed] == [
        (entry["type"], entry[entry["type"]]["ids"]["tmdb"])
        for kind in ("movie", "show")
        for entry in on_trakt
        if entry["type"] == kind
    ]
    assert watched is not None  # the keys (by every id) of each title watched
    watched_movies = {key for key in watched.payload if key.startswith("movie:imdb:")}
    assert watched_movies == {
        f"movie:imdb:{movie_ids(i)['imdb']}"
        for i in range(FIRST_WATCHED, FIRST_WATCHED + WATCHED_MOVIES)
    }
    assert len({key for key in watched.payload if key.startswith("show:tmdb:")}) == WATCHED_SHOWS

    limit = str(PAGE_LIMIT)
    assert pages_asked(big_sandbox, "/sync/watchlist/movies") == [
        ("1", limit),
        ("2", limit),
        ("3", limit),
    ]
    assert pages_asked(big_sandbox, "/sync/watchlist/shows") == [("1", limit)]
    assert pages_asked(big_sandbox, "/sync/watched/movies") == [
        (str(page), limit) for page in range(1, 6)
    ]
    assert pages_asked(big_sandbox, "/sync/watched/shows") == [("1", limit)]
    recommendations = big_sandbox.requests(path="/recommendations/movies")
    assert [r["query"].get("page") for r in recommendations] == [None]  # not paged (7.2)


def test_trending_and_popular_read_as_many_pages_as_the_list_size_needs(
    host_app, pager, big_sandbox
):
    with host_app.app_context():
        result = refresh.refresh([], global_lists=True)
        assert not result.errors, result.errors
        trending = cache.load(global_scope("trending", "movies")).entries()
    limit = str(PAGE_LIMIT)
    assert pages_asked(big_sandbox, "/movies/trending") == [("1", limit), ("2", limit)]
    assert pages_asked(big_sandbox, "/shows/popular") == [("1", limit)]  # 60 shows: all
    expected = [
        item["movie"]["ids"]["tmdb"]
        for page in (1, 2)
        for item in big_sandbox.api(
            "GET", "/movies/trending", params={"page": page, "limit": PAGE_LIMIT}
        ).json()
    ]
    assert [entry.ids.tmdb for entry in trending] == expected[:TRENDING]

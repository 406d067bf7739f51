"""Paging of every list the sandbox serves, as Trakt pages in late 2026 (CONTRACT 8).

One table row per endpoint: its default page size, its clamp, whether paging is optional,
and which headers it sends. Each row is checked for the default page, a ``limit`` above
the clamp, a page past the end, and headers that are decimal strings. The user's lists
are seeded with every movie of the catalogue (more than 250), so defaults and clamps show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from harness.trakt_sandbox.control_client import SandboxControl

USERNAME = "pager"
COUNT_HEADERS = (
    "X-Pagination-Page",
    "X-Pagination-Limit",
    "X-Pagination-Page-Count",
    "X-Pagination-Item-Count",
)


@dataclass(frozen=True)
class Row:
    path: str
    default: int
    maximum: int
    optional: bool = False  # everything without page/limit (only ratings)
    counts: bool = True  # Page-Count and Item-Count too (not on recommendations)
    token: bool = True
    fresh: bool = False  # asked by a user with no lists (recommendations leave out rated)
    params: tuple[tuple[str, str], ...] = ()


ROWS = [
    Row("/sync/ratings", 100, 250, optional=True),
    Row("/sync/ratings/movies", 100, 250, optional=True),
    Row("/users/me/ratings/movies", 100, 250, optional=True),
    Row("/sync/watchlist", 100, 250),
    Row("/sync/watchlist/movies/added/desc", 100, 250),
    Row("/users/me/watchlist", 100, 250),
    Row("/sync/history", 100, 250),
    Row("/sync/history/movies", 100, 250),
    Row("/users/me/history", 100, 250),
    Row("/sync/watched/movies", 100, 250),
    Row("/sync/watched/shows", 100, 250),
    Row("/sync/watched/shows", 100, 100, params=(("extended", "progress"),)),
    Row("/users/me/watched/movies", 100, 250),
    Row("/movies/trending", 100, 250, token=False),
    Row("/shows/trending", 100, 250, token=False),
    Row("/movies/popular", 100, 250, token=False),
    Row("/shows/popular", 100, 250, token=False),
    Row("/recommendations/movies", 10, 100, counts=False, fresh=True),
    Row("/recommendations/shows", 10, 100, counts=False, fresh=True),
]


@pytest.fixture()
def pager(sandbox: SandboxControl) -> dict[str, Any]:
    """A user with every movie rated, listed and watched, and one play of every show."""
    sandbox.set_limits(get_per_5min=100_000)
    catalogue = sandbox.catalogue()
    movies = [{"type": "movie", "movie": {"ids": m["ids"]}} for m in catalogue["movies"]]
    sandbox.set_ratings(USERNAME, [{**m, "rating": 1 + i % 10} for i, m in enumerate(movies)])
    sandbox.set_watchlist(USERNAME, movies)
    shows = [
        {"type": "episode", "show": {"ids": s["ids"]}, "episode": {"season": 1, "number": 1}}
        for s in catalogue["shows"]
    ]
    sandbox.set_history(USERNAME, [*movies, *shows])
    return {
        "token": sandbox.issue_tokens(USERNAME)["access_token"],
        "catalogue": catalogue,
        "fresh": sandbox.issue_tokens("newcomer")["access_token"],
    }


def get(sandbox: SandboxControl, pager: dict[str, Any], row: Row, **params: Any) -> Any:
    token = pager["fresh" if row.fresh else "token"] if row.token else None
    answer = sandbox.api("GET", row.path, token, params={**dict(row.params), **params})
    assert answer.status_code == 200, answer.text
    return answer


def total_of(sandbox: SandboxControl, pager: dict[str, Any], row: Row) -> int:
    """How many items the endpoint holds, read by paging through it at its clamp."""
    items, page = 0, 1
    while True:
        chunk = get(sandbox, pager, row, page=page, limit=row.maximum).json()
        items += len(chunk)
        if len(chunk) < row.maximum:
            return items
        page += 1


def check_headers(answer: Any, row: Row, page: int, limit: int, total: int) -> None:
    expected = {"X-Pagination-Page": str(page), "X-Pagination-Limit": str(limit)}
    if row.counts:
        expected["X-Pagination-Page-Count"] = str(max(1, -(-total // limit)))
        expected["X-Pagination-Item-Count"] = str(total)
    else:
        assert not {"X-Pagination-Page-Count", "X-Pagination-Item-Count"} & set(answer.headers)
    assert {name: answer.headers.get(name) for name in expected} == expected
    assert all(answer.headers[name].isdigit() for name in expected)


def row_id(row: Row) -> str:
    return row.path + "".join(f"?{k}={v}" for k, v in row.params)


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_default_page_size(sandbox, pager, row):
    total = total_of(sandbox, pager, row)
    answer = get(sandbox, pager, row)
    if row.optional:
        assert len(answer.json()) == total
        assert not set(COUNT_HEADERS) & set(answer.headers), "no paging asked, none given"
        answer = get(sandbox, pager, row, page=1)
    assert len(answer.json()) == min(total, row.default)
    check_headers(answer, row, 1, row.default, total)


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_limit_is_clamped_silently(sandbox, pager, row):
    total = total_of(sandbox, pager, row)
    answer = get(sandbox, pager, row, limit=row.maximum * 4)
    assert len(answer.json()) == min(total, row.maximum)
    check_headers(answer, row, 1, row.maximum, total)


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_a_page_past_the_end_is_empty_with_headers(sandbox, pager, row):
    total = total_of(sandbox, pager, row)
    answer = get(sandbox, pager, row, page=999, limit=5)
    assert answer.json() == []
    check_headers(answer, row, 999, 5, total)


@pytest.mark.parametrize("row", [r for r in ROWS if r.counts], ids=row_id)
def test_pages_are_consecutive_slices(sandbox, pager, row):
    first = get(sandbox, pager, row, page=1, limit=7).json()
    second = get(sandbox, pager, row, page=2, limit=7).json()
    both = get(sandbox, pager, row, page=1, limit=14).json()
    assert first + second == both


def test_the_user_lists_really_exceed_a_page(sandbox, pager):
    """Guards the table: with fewer than 251 items, clamping would go unseen."""
    assert len(pager["catalogue"]["movies"]) > 250
    assert total_of(sandbox, pager, ROWS[0]) == len(pager["catalogue"]["movies"])

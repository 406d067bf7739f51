"""Trakt's paged lists read whole or not at all.

Trakt's page sizes and defaults keep moving (CONTRACT 8), and a list read short looks
complete: the sync would then remove what it did not see. So the headers of every page
are checked against each other, and anything odd is an error, never a shorter list."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from aperture_trakt_plugin.trakt.answers import json_or_none
from aperture_trakt_plugin.trakt.errors import MalformedResponse

MSG_PAGE_NOT_A_LIST = "{what}: page {page} of Trakt's answer was not a list"
MSG_NO_PAGING = (
    "{what}: Trakt sent a full page ({count} items) without its paging headers, "
    "so whether more follow is unknown; the list was not read"
)
MSG_PAGING_MISSING = (
    "{what}: page {page} came without Trakt's paging headers; the list was not read whole"
)
MSG_PAGING_CHANGED = (
    "{what}: Trakt's paging headers changed while the list was read "
    "(expected {expected}, got {found}); it was not read whole"
)
MSG_PAGING_STATE = "page {page} of {pages}, {limit} per page"
MSG_PAGING_BAD = (
    "{what}: Trakt's paging headers do not add up (page {page}); the list "
    "was not read, and nothing was changed because of it"
)
MSG_TOO_MANY_PAGES = (
    "{what}: Trakt has {pages} pages of {limit} items here, more than the "
    "{most} items read at most; the list was not read"
)


#: Items asked per page: Trakt's maximum on most endpoints since 2026-06-15 (CONTRACT 8);
#: a larger limit is clamped, so ``X-Pagination-Limit`` says what was applied.
PAGE_LIMIT = 250
#: The most items a list is read to: Trakt's cap on a watch history (CONTRACT 10), the
#: largest of the lists it keeps. A list said to be longer is refused, not cut short.
MOST_ITEMS = 100_000


@dataclass(frozen=True)
class Paging:
    """A page's ``X-Pagination-*`` headers."""

    page: int
    limit: int
    pages: int

    def __str__(self) -> str:
        return MSG_PAGING_STATE.format(page=self.page, pages=self.pages, limit=self.limit)


def paging_of(response: requests.Response) -> Paging | None:
    """The page's paging headers; None when it has none, or unusable ones."""
    return paging_in(response.headers)


def paging_in(headers: Mapping[str, str]) -> Paging | None:
    """``paging_of`` for the headers alone (kept after the body was let go)."""
    page, limit, pages = (_header_int(headers, name) for name in PAGING_HEADERS[:3])
    if page is None or limit is None or pages is None:
        return None
    paging = Paging(page, limit, pages)
    return paging if min(paging.page, paging.limit, paging.pages) >= 1 else None


PAGING_HEADERS = (
    "X-Pagination-Page",
    "X-Pagination-Limit",
    "X-Pagination-Page-Count",
    "X-Pagination-Item-Count",
)
#: A header value longer than this is no number Trakt sends (and ``int()`` of 100,000
#: digits is refused anyway): unusable, not parsed.
HEADER_DIGITS = 12


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None or len(value) > HEADER_DIGITS:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def checked_paging(
    headers: Mapping[str, str], what: str, page: int, count: int, first: Paging | None = None
) -> Paging | None:
    """The page's paging, checked; None for an answer with no paging headers at all (an
    unparameterised call Trakt answered whole). A page whose headers are partly there,
    not numbers, below 1, not the page asked for, inconsistent with the item count and
    limit (``X-Pagination-Item-Count``), with more items than the limit, with more pages
    than :data:`MOST_ITEMS` allows, or different from page 1's, is
    :class:`MalformedResponse`: a list read from it would look complete and be wrong.
    ``count``: the items read from the page."""
    if page == 1 and not any(name in headers for name in PAGING_HEADERS):
        return None
    paging = paging_in(headers)
    bad = MalformedResponse(MSG_PAGING_BAD.format(what=what, page=page))
    if paging is None or paging.page != page or count > paging.limit:
        raise bad
    total = _header_int(headers, "X-Pagination-Item-Count")
    if "X-Pagination-Item-Count" in headers and (
        total is None or total < 0 or paging.pages != max(1, math.ceil(total / paging.limit))
    ):
        raise bad
    if paging.pages > math.ceil(MOST_ITEMS / paging.limit):
        raise MalformedResponse(
            MSG_TOO_MANY_PAGES.format(
                what=what, pages=paging.pages, limit=paging.limit, most=MOST_ITEMS
            )
        )
    if first is not None and (paging.limit, paging.pages) != (first.limit, first.pages):
        raise MalformedResponse(
            MSG_PAGING_CHANGED.format(
                what=what, found=paging, expected=Paging(page, first.limit, first.pages)
            )
        )
    return paging


def read_pages(
    fetch: Callable[[dict[str, Any]], requests.Response],
    what: str,
    params: Mapping[str, Any] | None = None,
    most: int | None = None,
) -> list[Any]:
    """Every item of a paged list, or its first ``most``, one call per page.

    Trakt's defaults keep moving (watchlist and watched went from "everything" to the
    first 100 in 2026), so ``page`` and ``limit`` are always sent and the loop follows
    the headers, never its own arithmetic (CONTRACT 8). A list that cannot be read whole
    is an error (retryable: its cache keeps the last good copy) rather than a short list
    that would look complete: a later page without the headers, headers that change
    between pages, more than :data:`MOST_ITEMS`. A first page without headers is taken as
    an unpaged answer, the whole list, unless it holds exactly a full page.

    ``fetch(params)`` makes one call (with the user's token, budget and refresh)."""
    limit = PAGE_LIMIT if most is None else max(1, min(PAGE_LIMIT, most))
    items: list[Any] = []
    first: Paging | None = None
    page = 1
    while True:
        response = fetch({**(params or {}), "page": page, "limit": limit})
        data = json_or_none(response)
        if not isinstance(data, list):
            raise MalformedResponse(
                MSG_PAGE_NOT_A_LIST.format(what=what, page=page), status=response.status_code
            )
        paging = paging_of(response)
        if paging is None and page == 1:
            if len(data) == limit and (most is None or len(data) < most):
                raise MalformedResponse(MSG_NO_PAGING.format(what=what, count=len(data)))
            return data if most is None else data[:most]
        if paging is None:
            raise MalformedResponse(MSG_PAGING_MISSING.format(what=what, page=page))
        if first is None:
            first = paging
            if most is None and paging.pages > math.ceil(MOST_ITEMS / paging.limit):
                raise MalformedResponse(
                    MSG_TOO_MANY_PAGES.format(
                        what=what, pages=paging.pages, limit=paging.limit, most=MOST_ITEMS
                    )
                )
        expected = Paging(page, first.limit, first.pages)
        if paging != expected:
            raise MalformedResponse(
                MSG_PAGING_CHANGED.format(what=what, found=paging, expected=expected)
            )
        items += data
        if page >= first.pages or (most is not None and len(items) >= most):
            return items if most is None else items[:most]
        page += 1

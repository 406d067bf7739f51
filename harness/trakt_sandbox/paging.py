"""Trakt's paging, per endpoint, as it is in late 2026 (CONTRACT sections 8, 6.2, 6.6, 6.7, 7).

There is no single default any more: history, watchlist, watched, trending and popular
give 100 items a page when asked for none, recommendations 10. ``limit`` is silently
clamped, at 250 on most endpoints and at 100 on recommendations and on watched with
``extended=progress``. Only ``/sync/ratings`` (and the same list read through
``/users/{id}/ratings``) is still "pagination optional": everything, without headers,
unless ``page`` or ``limit`` is sent. A page past the end is ``[]`` with the headers.
Header values are decimal strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import request


@dataclass(frozen=True)
class PagePolicy:
    """How one endpoint pages: its default ``limit``, its clamp, and whether it may not."""

    default: int
    maximum: int
    optional: bool = False  # all items, no headers, unless page or limit is sent

    def clamped(self, maximum: int) -> PagePolicy:
        """The same policy with a lower clamp (watched with ``extended=progress``)."""
        return PagePolicy(self.default, min(self.maximum, maximum), self.optional)


MOST = PagePolicy(default=100, maximum=250)  # 📄 endpoints since 2026-06-15 (section 8)
HISTORY = MOST
WATCHLIST = MOST  # required since 2026-04-15 (6.6); the 586224b contract still says optional
WATCHED = MOST  # paginated since 2026-06-30 (6.7)
WATCHED_PROGRESS_MAX = 100
DISCOVERY = MOST  # trending and popular (7.1)
RECOMMENDATIONS = PagePolicy(default=10, maximum=100)  # 7.2
RATINGS = PagePolicy(default=100, maximum=250, optional=True)  # 6.2, #919


def _positive_int(name: str, default: int) -> int:
    try:
        return max(1, int(request.args[name]))
    except (KeyError, ValueError):
        return default


def page_window(policy: PagePolicy) -> tuple[int, int] | None:
    """(page, effective limit) of this request, or None for "everything" (optional only)."""
    if policy.optional and "page" not in request.args and "limit" not in request.args:
        return None
    return _positive_int("page", 1), min(_positive_int("limit", policy.default), policy.maximum)


def page_headers(page: int, limit: int, total: int) -> dict[str, str]:
    return {
        "X-Pagination-Page": str(page),
        "X-Pagination-Limit": str(limit),
        "X-Pagination-Page-Count": str(max(1, -(-total // limit))),
        "X-Pagination-Item-Count": str(total),
    }


def paginate(items: Sequence[Any], policy: PagePolicy) -> tuple[Sequence[Any], dict[str, str]]:
    """The slice of ``items`` this request asked for, and the ``X-Pagination-*`` headers."""
    window = page_window(policy)
    if window is None:
        return items, {}
    page, limit = window
    start = (page - 1) * limit
    return items[start : start + limit], page_headers(page, limit, len(items))

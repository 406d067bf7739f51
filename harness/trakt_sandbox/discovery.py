"""Trending, popular and personal recommendations, plus hiding one (CONTRACT 7.1-7.2).

Lists are ranked once at start-up over the whole catalogue (titles in the host's library
and titles it lacks), so an unfiltered page is a slice. Recommendations rank titles by
the user's taste: genres of what they rated well score up, genres of what they rated
badly score down, popularity breaks ties. They never contain what the user rated, hid or
has watched (a watched movie, a show with every episode watched); ``ignore_watched``
also drops shows the user has started, ``ignore_collected`` and ``ignore_watchlisted``
drop collected and watchlisted titles.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, Response, request

from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.media import PLURAL, SINGULAR, Catalogue, Media
from harness.trakt_sandbox.paging import DISCOVERY, RECOMMENDATIONS, page_window, paginate
from harness.trakt_sandbox.protocol import (
    JSON_TYPE,
    current_user,
    empty_response,
    error_response,
    flag,
    images_host,
    json_response,
    user_required,
    wants_full,
)
from harness.trakt_sandbox.state import SandboxState, User

bp = Blueprint("discovery", __name__)
LISTS = "<any(movies,shows):plural>"
FILTER_ARGS = ("genres", "years", "ignore_watched", "ignore_collected", "ignore_watchlisted")


def route_both(rule: str, **options: Any) -> Any:
    """One static rule per kind: ``/movies/<movie_id>`` would shadow a converter rule."""

    def register(view: Any) -> Any:
        for plural in ("movies", "shows"):
            bp.add_url_rule(
                rule.format(plural=plural), view_func=view, defaults={"plural": plural}, **options
            )
        return view

    return register


def _years(value: str) -> tuple[int, int] | None:
    try:
        low, _, high = value.partition("-")
        return int(low), int(high or low)
    except ValueError:
        return None


def _excluded_by_user(state: SandboxState, user: User, kind: str) -> set[tuple[str, int]]:
    """Keys the ``ignore_*`` flags drop for this user."""
    keys: set[tuple[str, int]] = set()
    if flag("ignore_watched"):
        keys |= watched_keys(state, user, kind, started=True)
    if flag("ignore_collected"):
        keys |= {key for key in user.collection if key[0] == kind}
    if flag("ignore_watchlisted"):
        keys |= {key for key in user.watchlist if key[0] == kind}
    return keys


def watched_keys(state: SandboxState, user: User, kind: str, started: bool) -> set[tuple[str, int]]:
    """Watched movies; shows fully watched (or, with ``started``, with any play)."""
    plays = state.watch_count(user)
    if kind == "movie":
        return {key for key in plays if key[0] == "movie"}
    per_show: dict[int, int] = {}
    for key in plays:
        episode = state.catalogue.get(*key) if key[0] == "episode" else None
        if episode is not None and episode.show is not None:
            per_show[episode.show.trakt] = per_show.get(episode.show.trakt, 0) + 1
    return {
        ("show", trakt)
        for trakt, seen in per_show.items()
        if started or seen >= state.catalogue.get("show", trakt).episode_count()
    }


def _filtered(ranked: list[Media], kind: str) -> list[Media]:
    if not any(name in request.args for name in FILTER_ARGS):
        return ranked
    genres = {g.strip().lower() for g in request.args.get("genres", "").split(",") if g}
    years = _years(request.args.get("years", "")) if request.args.get("years") else None
    items = [
        m
        for m in ranked
        if (not genres or genres.intersection(m.genres))
        and (not years or (m.year is not None and years[0] <= m.year <= years[1]))
    ]
    user = current_user()
    if user is not None:
        sb = sandbox()
        with sb.state.lock:
            excluded = _excluded_by_user(sb.state, user, kind)
        items = [m for m in items if m.key not in excluded]
    return items


MEMO_SIZE = 256  # distinct (list, kind, page, limit, full) answers kept


def _discovery_page(
    name: str, kind: str, render: Callable[[Sequence[Media], bool, str | None], list[Any]]
) -> Response:
    """A trending or popular page. Without filters the answer depends only on the
    request's paging and ``extended``, so it is serialised once and kept: the default
    page is 100 titles since 2026, and this is the sandbox's hottest GET."""
    catalogue = sandbox().catalogue
    ranked = getattr(catalogue, name)[kind]
    full, images = wants_full(), images_host()
    filtered = any(arg in request.args for arg in FILTER_ARGS)
    key = (name, kind, page_window(DISCOVERY), full, images)
    memo = catalogue.discovery_pages
    if not filtered and key in memo:
        payload, headers = memo[key]
        return Response(payload, 200, headers, content_type=JSON_TYPE)
    page, headers = paginate(_filtered(ranked, kind), DISCOVERY)
    if name == "trending":
        headers["X-Trending-User-Count"] = str(sum(m.watchers for m in ranked))
    payload = json.dumps(render(page, full, images), separators=(",", ":")).encode()
    if not filtered:
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = (payload, headers)
    return Response(payload, 200, headers, content_type=JSON_TYPE)


@route_both("/{plural}/trending", methods=["GET"])
def trending(plural: str) -> Response:
    kind = SINGULAR[plural]
    return _discovery_page(
        "trending",
        kind,
        lambda page, full, images: [
            {"watchers": m.watchers, kind: m.obj(full, images)} for m in page
        ],
    )


@route_both("/{plural}/popular", methods=["GET"])
def popular(plural: str) -> Response:
    return _discovery_page(
        "popular",
        SINGULAR[plural],
        lambda page, full, images: [m.obj(full, images) for m in page],
    )


def recommend(state: SandboxState, user: User, kind: str) -> list[Media]:
    """The user's recommendations of one kind, best first, before ``limit``."""
    catalogue: Catalogue = state.catalogue
    taste: dict[str, float] = {}
    for (rated_kind, trakt), rated in user.ratings.items():
        media = catalogue.get(rated_kind, trakt)
        if media is not None and rated_kind in ("movie", "show"):
            for genre in media.genres:
                taste[genre] = taste.get(genre, 0.0) + rated.rating - 5.5
    excluded = set(user.hidden) | set(user.ratings) | watched_keys(state, user, kind, False)
    excluded |= _excluded_by_user(state, user, kind)
    ranked = catalogue.popular[kind]
    position = {media.trakt: index for index, media in enumerate(ranked)}
    candidates = [m for m in ranked if m.key not in excluded]
    candidates.sort(key=lambda m: (-sum(taste.get(g, 0.0) for g in m.genres), position[m.trakt]))
    return candidates


@bp.get(f"/recommendations/{LISTS}")
@user_required
def recommendations(plural: str) -> Response:
    sb, user = sandbox(), current_user()
    with sb.state.lock:
        items = recommend(sb.state, user, SINGULAR[plural])
    page, headers = paginate(items, RECOMMENDATIONS)
    # Trakt sends only these two paging headers here (CONTRACT 7.2).
    headers = {
        "X-Pagination-Page": headers["X-Pagination-Page"],
        "X-Pagination-Limit": headers["X-Pagination-Limit"],
    }
    full, images = wants_full(), images_host()
    body: list[dict[str, Any]] = [
        {**m.obj(full, images), "favorited_by": [], "recommended_by": []} for m in page
    ]
    return json_response(body, 200, headers)


@bp.delete(f"/recommendations/{LISTS}/<media_id>")
@user_required
def hide(plural: str, media_id: str) -> Response:
    sb, user = sandbox(), current_user()
    media = sb.catalogue.from_path(SINGULAR[plural], media_id)
    if media is None:
        return error_response(404, "not_found", f"no {SINGULAR[plural]} {media_id!r}")
    with sb.state.lock:
        user.hidden[media.key] = sb.clock.now()
        user.activities.touch(sb.clock.now(), f"{PLURAL[media.kind]}.hidden_at")
    return empty_response(204)

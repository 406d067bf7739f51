"""The control API's calls on a user's lists (``/_sandbox/users/<name>/<list>``): read
and replace ratings, history, watchlist and collection in the very shapes Trakt's GETs
return, and read what is hidden and the ``last_activities``. Kept apart from the rest of
``control`` because replacing a list is a small parser of Trakt's item shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from harness.trakt_sandbox.clock import iso, parse_moment, truncate_ms
from harness.trakt_sandbox.context import Sandbox, sandbox
from harness.trakt_sandbox.control import ControlError, control_error, user_named
from harness.trakt_sandbox.media import PLURAL, Media
from harness.trakt_sandbox.protocol import json_response
from harness.trakt_sandbox.state import Listed, Play, Rated, User
from harness.trakt_sandbox.sync_history import history_items
from harness.trakt_sandbox.sync_ratings import rating_items, valid_rating
from harness.trakt_sandbox.sync_watchlist import public, watchlist_items

bp = Blueprint("control_lists", __name__, url_prefix="/_sandbox")
bp.register_error_handler(ControlError, control_error)
LISTS = "<any(ratings,history,watchlist,collection):list_name>"
ITEM_KINDS = ("episode", "season", "movie", "show")  # the most specific key wins


def _media_of(sb: Sandbox, item: Any) -> Media:
    """The title a GET-shaped item names: by its own ids, or by show + numbers."""
    if not isinstance(item, dict):
        raise ControlError("items must be objects", item=item)
    kind = item.get("type") or next((k for k in ITEM_KINDS if k in item), None)
    obj = item.get(kind) if kind else None
    if kind not in ITEM_KINDS or not isinstance(obj, dict):
        raise ControlError("an item needs a type and its media object", item=item)
    found = sb.catalogue.match(kind, obj)
    if found is None and kind in ("season", "episode") and isinstance(item.get("show"), dict):
        show = sb.catalogue.match("show", item["show"])
        if show is not None and kind == "season":
            found = sb.catalogue.season_of(show, obj.get("number"))
        elif show is not None:
            found = sb.catalogue.episode_of(show, obj.get("season"), obj.get("number"))
    if found is None:
        raise ControlError("no such title in the sandbox catalogue", not_found=item)
    return found


def _moment(item: dict[str, Any], key: str, default: datetime) -> datetime:
    if item.get(key) is None:
        return default
    moment = parse_moment(item[key])
    if moment is None:
        raise ControlError(f"{key} is not a date", item=item)
    return truncate_ms(moment)


def _set_ratings(sb: Sandbox, user: User, items: list[Any], now: datetime) -> set[str]:
    ratings = {}
    for item in items:
        media = _media_of(sb, item)
        if not valid_rating(item.get("rating")):
            raise ControlError("rating must be an integer 1-10", item=item)
        ratings[media.key] = Rated(item["rating"], _moment(item, "rated_at", now))
    kinds = {key[0] for key in (*user.ratings, *ratings)}
    user.ratings = ratings
    return {f"{PLURAL[kind]}.rated_at" for kind in kinds}


def _set_history(sb: Sandbox, user: User, items: list[Any], now: datetime) -> set[str]:
    plays = []
    for item in items:
        media = _media_of(sb, item)
        moment = None if item.get("watched_at") == "unknown" else _moment(item, "watched_at", now)
        for one in [media] if media.kind == "movie" else media.episodes():
            plays.append(
                Play(sb.state.next_id("history"), one.key, moment, item.get("action") or "watch")
            )
    kinds = {play.key[0] for play in (*user.history, *plays)}
    user.history = plays
    return {f"{PLURAL[kind]}.watched_at" for kind in kinds}


def _set_watchlist(sb: Sandbox, user: User, items: list[Any], now: datetime) -> set[str]:
    listed = {}
    for item in items:
        media = _media_of(sb, item)
        listed[media.key] = Listed(
            sb.state.next_id("list"), _moment(item, "listed_at", now), item.get("notes")
        )
    kinds = {key[0] for key in (*user.watchlist, *listed)}
    user.watchlist = listed
    return {f"{PLURAL[kind]}.watchlisted_at" for kind in kinds} | {"watchlist.updated_at"}


def _set_collection(sb: Sandbox, user: User, items: list[Any], now: datetime) -> set[str]:
    collected = {_media_of(sb, item).key: _moment(item, "collected_at", now) for item in items}
    kinds = {key[0] for key in (*user.collection, *collected)} & {"movie", "episode"}
    user.collection = collected
    return {f"{PLURAL[kind]}.collected_at" for kind in kinds}


def _collection_items(sb: Sandbox, user: User) -> list[dict[str, Any]]:
    items = []
    for key, moment in user.collection.items():
        media = sb.catalogue.get(*key)
        if media is not None:
            fields = {media.kind: media.obj()}
            if media.show is not None:
                fields["show"] = media.show.obj()
            items.append({"collected_at": iso(moment), "type": media.kind, **fields})
    return items


SETTERS: dict[str, Callable[[Sandbox, User, list[Any], datetime], set[str]]] = {
    "ratings": _set_ratings,
    "history": _set_history,
    "watchlist": _set_watchlist,
    "collection": _set_collection,
}


@bp.get(f"/users/<username>/{LISTS}")
def get_list(username: str, list_name: str) -> Response:
    sb = sandbox()
    with sb.state.lock:
        user = user_named(username)
        if list_name == "ratings":
            items = rating_items(user, sb.catalogue)
        elif list_name == "history":
            items = history_items(user, sb.catalogue)
        elif list_name == "watchlist":
            items = public(watchlist_items(user, sb.catalogue))
        else:
            items = _collection_items(sb, user)
    return json_response(items)


@bp.put(f"/users/<username>/{LISTS}")
def put_list(username: str, list_name: str) -> Response:
    """Replace a list; the matching ``last_activities`` keys move, as for a real write.

    Items are shaped like the matching Trakt GET's items. A season or an episode may be
    named by ``show`` + its numbers instead of its own ids; in ``history`` a show or a
    season stands for all of its episodes, as in ``POST /sync/history``.
    """
    items = request.get_json(silent=True)
    if isinstance(items, dict):
        items = items.get("items")
    if not isinstance(items, list):
        raise ControlError('send a JSON list of items (or {"items": [...]})')
    sb = sandbox()
    with sb.state.lock:
        user = user_named(username)
        now = truncate_ms(sb.clock.now())
        touched = SETTERS[list_name](sb, user, items, now)
        if touched:
            user.activities.touch(sb.clock.now(), *sorted(touched))
    return get_list(username, list_name)


@bp.get("/users/<username>/hidden")
def get_hidden(username: str) -> Response:
    sb = sandbox()
    with sb.state.lock:
        user = user_named(username)
        items = [
            {"hidden_at": iso(moment), "type": kind, kind: sb.catalogue.get(kind, trakt).obj()}
            for (kind, trakt), moment in user.hidden.items()
        ]
    return json_response(items)


@bp.get("/users/<username>/last_activities")
def get_activities(username: str) -> Response:
    return json_response(user_named(username).activities.as_json())

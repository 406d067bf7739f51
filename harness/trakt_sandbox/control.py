"""The ``/_sandbox/`` control API (JSON) that tests, benchmarks and the demo drive.

It is not part of Trakt: it resets the world, registers and deletes apps, registers users
and changes their flags, hands out tokens, reads and replaces a user's lists (in the very
shapes Trakt's GETs return), approves device codes, shows the request log, injects
faults, changes rate limits and moves the clock. Calls documented in their own modules:

* ``PUT|GET /_sandbox/behaviour``: ``not_found`` shape, ``seed``, ``firewall``,
  ``oauth`` strictness, ``refresh_error``, ``app_limit`` (``behaviour.py``).
* ``PUT|GET /_sandbox/account-limits``: caps per tier, ``mode``, 420 ``body``
  (``account_limits.py``); ``PUT /_sandbox/users/<name>`` with ``{"vip": true}`` etc.
* ``POST /_sandbox/faults`` with ``"preset": "cloudflare-403" | "cloudflare-429"``
  (``faults.py``, ``cloudflare.py``).
* ``DELETE /_sandbox/apps/<client_id>`` (``app_policy.py``).

``POST /_sandbox/reset`` restores all of them. Control calls are neither logged nor
rate-limited, and never blocked by the ``firewall``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, redirect, request, session

from harness.trakt_sandbox.app_policy import delete_app
from harness.trakt_sandbox.clock import iso, parse_moment, truncate_ms
from harness.trakt_sandbox.context import Sandbox, sandbox
from harness.trakt_sandbox.device import decide
from harness.trakt_sandbox.faults import Fault
from harness.trakt_sandbox.media import PLURAL, Media
from harness.trakt_sandbox.oauth import SESSION_USER
from harness.trakt_sandbox.protocol import json_response
from harness.trakt_sandbox.state import ISSUED_SECRETS, Listed, Play, Rated, User
from harness.trakt_sandbox.sync_history import history_items
from harness.trakt_sandbox.sync_ratings import rating_items, valid_rating
from harness.trakt_sandbox.sync_watchlist import public, watchlist_items

bp = Blueprint("control", __name__, url_prefix="/_sandbox")
LISTS = "<any(ratings,history,watchlist,collection):list_name>"
ITEM_KINDS = ("episode", "season", "movie", "show")  # the most specific key wins
USER_FLAGS = ("name", "vip", "locked", "deactivated", "private")


class ControlError(Exception):
    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


@bp.errorhandler(ControlError)
def control_error(exc: ControlError) -> Response:
    return json_response({"error": str(exc), **exc.extra}, 400)


def payload() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def reset_world(sb: Sandbox) -> None:
    from harness.trakt_sandbox.demo import seed_demo_users

    sb.clock.reset()
    sb.state.reset()
    sb.limiter.reset()
    sb.faults.clear()
    sb.log.clear()
    sb.behaviour.reset()
    sb.account_limits.reset()
    if sb.config["SANDBOX_DEMO_USERS"]:
        seed_demo_users(sb.state)


@bp.post("/reset")
def reset() -> Response:
    reset_world(sandbox())
    return json_response({"ok": True})


# -- apps, users, tokens -----------------------------------------------------------------
@bp.post("/apps")
def add_app() -> Response:
    data = payload()
    if not data.get("client_id") or not data.get("client_secret"):
        raise ControlError("client_id and client_secret are required")
    uris = data.get("redirect_uri") or data.get("redirect_uris") or []
    uris = [uris] if isinstance(uris, str) else list(uris)
    app = sandbox().state.add_app(
        data["client_id"],
        data["client_secret"],
        uris,
        data.get("name") or "Sandbox app",
        data.get("community", True) is not False,
    )
    return json_response(app.as_json(), 201)


@bp.delete("/apps/<client_id>")
def remove_app(client_id: str) -> Response:
    """Delete an app as Trakt does (lapsed VIP, no active user): ``app_policy.py``."""
    if not delete_app(sandbox(), client_id):
        raise ControlError(f"no app {client_id!r}")
    return json_response({"ok": True})


@bp.get("/apps")
def list_apps() -> Response:
    return json_response([app.as_json() for app in sandbox().state.apps.values()])


@bp.post("/users")
def add_user() -> Response:
    data = payload()
    if not data.get("username"):
        raise ControlError("username is required")
    flags = {k: data.get(k) for k in USER_FLAGS}
    user = sandbox().state.ensure_user(str(data["username"]), **flags)
    return json_response(user.flags(), 201)


@bp.put("/users/<username>")
def update_user(username: str) -> Response:
    """Change an existing user's flags (``vip``: its account-limit tier, locked...)."""
    state = sandbox().state
    if state.user(username) is None:
        raise ControlError(f"no user {username!r}")
    data = payload()
    unknown = set(data) - set(USER_FLAGS)
    if unknown:
        raise ControlError(f"unknown flags: {sorted(unknown)}")
    return json_response(state.ensure_user(username, **data).flags())


@bp.get("/users")
def list_users() -> Response:
    return json_response([user.flags() for user in sandbox().state.users.values()])


@bp.post("/users/<username>/tokens")
def issue_tokens(username: str) -> Response:
    """A token pair without the browser dance, answered exactly like ``/oauth/token``."""
    data = payload()
    state = sandbox().state
    client_id = data.get("client_id") or "sandbox-client-id"
    if client_id not in state.apps:
        raise ControlError(f"unknown client_id {client_id!r}")
    state.ensure_user(username)
    token = state.issue_token(username, client_id, expires_in=data.get("expires_in"))
    return json_response(token.as_json(), 201)


@bp.get("/issued-secrets")
def issued_secrets() -> Response:
    """Every token, code, verifier and client secret this process's sandboxes saw, resets
    included, so a test run can check that none of them reached a log."""
    return json_response(ISSUED_SECRETS.entries())


def _user(username: str) -> User:
    return sandbox().state.ensure_user(username)


# -- lists -------------------------------------------------------------------------------
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
        user = _user(username)
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
        user = _user(username)
        now = truncate_ms(sb.clock.now())
        touched = SETTERS[list_name](sb, user, items, now)
        if touched:
            user.activities.touch(sb.clock.now(), *sorted(touched))
    return get_list(username, list_name)


@bp.get("/users/<username>/hidden")
def get_hidden(username: str) -> Response:
    sb = sandbox()
    with sb.state.lock:
        user = _user(username)
        items = [
            {"hidden_at": iso(moment), "type": kind, kind: sb.catalogue.get(kind, trakt).obj()}
            for (kind, trakt), moment in user.hidden.items()
        ]
    return json_response(items)


@bp.get("/users/<username>/last_activities")
def get_activities(username: str) -> Response:
    return json_response(_user(username).activities.as_json())


# -- device codes ------------------------------------------------------------------------
def _device_decision(approve: bool) -> Response:
    data = payload()
    state = sandbox().state
    device = state.device_by_user_code(str(data.get("user_code") or ""))
    username = data.get("username")
    if approve:
        if not username:
            raise ControlError("username is required")
        state.ensure_user(str(username))
    problem = decide(device, username, approve)
    if problem:
        raise ControlError(problem)
    return json_response({"ok": True, "status": device.status})


@bp.post("/device/approve")
def approve_device() -> Response:
    return _device_decision(True)


@bp.post("/device/deny")
def deny_device() -> Response:
    return _device_decision(False)


@bp.post("/device/expire")
def expire_device() -> Response:
    sb = sandbox()
    device = sb.state.device_by_user_code(str(payload().get("user_code") or ""))
    if device is None:
        raise ControlError("unknown code")
    device.expires_at = sb.clock.time()
    return json_response({"ok": True})


# -- request log, faults, limits, clock, catalogue, login ----------------------------------
@bp.get("/requests")
def get_requests() -> Response:
    return json_response(sandbox().log.entries(request.args.to_dict()))


@bp.delete("/requests")
def clear_requests() -> Response:
    sandbox().log.clear()
    return json_response({"ok": True})


@bp.post("/faults")
def add_fault() -> Response:
    data = payload()
    if not data.get("path"):
        raise ControlError("path is required")
    try:
        fault = Fault(
            method=str(data.get("method") or "*"),
            path=str(data["path"]),
            status=data.get("status"),
            count=int(data.get("count", 1)),
            body=data.get("body"),
            headers=data.get("headers"),
            delay_ms=data.get("delay_ms"),
            preset=data.get("preset"),
            retry_after=data.get("retry_after", 300),
        )
        sandbox().faults.add(fault)
    except (TypeError, ValueError) as exc:
        raise ControlError(str(exc)) from exc
    return json_response(fault.as_json(), 201)


@bp.get("/faults")
def list_faults() -> Response:
    return json_response(sandbox().faults.as_json())


@bp.delete("/faults")
def clear_faults() -> Response:
    sandbox().faults.clear()
    return json_response({"ok": True})


def _settings(path: str, part: Callable[[Sandbox], Any], doc: str) -> None:
    """``GET`` and ``PUT`` for one part of the sandbox that tests reconfigure: the PUT
    hands the JSON body to the part's ``configure`` and both answer its ``as_json``."""

    def read() -> Response:
        return json_response(part(sandbox()).as_json())

    def write() -> Response:
        try:
            part(sandbox()).configure(payload())
        except (TypeError, ValueError) as exc:
            raise ControlError(str(exc)) from exc
        return read()

    name = path.strip("/").replace("-", "_")
    write.__doc__ = doc
    bp.add_url_rule(path, f"get_{name}", read, methods=["GET"])
    bp.add_url_rule(path, f"set_{name}", write, methods=["PUT"])


_settings(
    "/behaviour",
    lambda sb: sb.behaviour,
    "Switch how answers vary (``behaviour.py`` lists the keys).",
)
_settings(
    "/account-limits",
    lambda sb: sb.account_limits,
    "Caps per tier, the reject/partial mode and the 420 body (``account_limits.py``).",
)
_settings("/limits", lambda sb: sb.limiter, "The rate-limit buckets (``ratelimit.py``).")


def _clock_json() -> dict[str, Any]:
    clock = sandbox().clock
    return {"now": iso(clock.now()), "offset": clock.offset, "time": clock.time()}


@bp.post("/clock")
def advance_clock() -> Response:
    try:
        sandbox().clock.advance(float(payload().get("seconds", 0)))
    except (TypeError, ValueError) as exc:
        raise ControlError(str(exc)) from exc
    return json_response(_clock_json())


@bp.get("/clock")
def get_clock() -> Response:
    return json_response(_clock_json())


@bp.get("/catalogue")
def catalogue() -> Response:
    """Every title with its sandbox ids, so tests can name them without guessing."""
    cat = sandbox().catalogue
    shows = []
    for show in cat.shows:
        seasons = [
            {**season.minimal, "episodes": [episode.minimal for episode in season.children]}
            for season in show.children
        ]
        shows.append({**show.minimal, "in_library": show.in_library, "seasons": seasons})
    movies = [{**movie.minimal, "in_library": movie.in_library} for movie in cat.movies]
    return json_response({"movies": movies, "shows": shows})


@bp.get("/login")
def login_as() -> Response:
    """Sign a browser in as a user without the form: ``?username=...&next=/path``."""
    username = request.args.get("username", "")
    if not username:
        raise ControlError("username is required")
    sandbox().state.ensure_user(username)
    session[SESSION_USER] = username.lower()
    next_url = request.args.get("next", "/activate")
    return redirect(next_url if next_url.startswith("/") else "/activate")

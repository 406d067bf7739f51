"""The ``/_sandbox/`` control API (JSON) that tests, benchmarks and the demo drive.

It is not part of Trakt: it resets the world, registers and deletes apps, registers users
and changes their flags, hands out tokens, reads and replaces a user's lists (in the very
shapes Trakt's GETs return: ``control_lists.py``), approves device codes, shows the
request log, injects faults, changes rate limits and moves the clock. Calls documented
in their own modules:

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
from typing import Any

from flask import Blueprint, Response, redirect, request, session

from harness.trakt_sandbox.app_policy import delete_app
from harness.trakt_sandbox.clock import iso
from harness.trakt_sandbox.context import Sandbox, sandbox
from harness.trakt_sandbox.device import decide
from harness.trakt_sandbox.faults import Fault
from harness.trakt_sandbox.oauth import SESSION_USER
from harness.trakt_sandbox.protocol import json_response
from harness.trakt_sandbox.state import ISSUED_SECRETS, User

bp = Blueprint("control", __name__, url_prefix="/_sandbox")
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


def user_named(username: str) -> User:
    return sandbox().state.ensure_user(username)


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

"""What every call goes through, in Trakt's order, before and after its handler.

Faults first (so any answer can be injected), then Cloudflare (the ``firewall`` behaviour
switch, then the User-Agent check: ``cloudflare.py``), then on the API host:
``trakt-api-version``, ``trakt-api-key`` (403), the Bearer token (401), a
locked account (423), the rate-limit buckets (429) and the body's Content-Type (412).
Every API and OAuth call is logged after its answer, and every answer of the application
itself (not Cloudflare's) carries ``x-request-id`` and ``x-runtime``. Also the small
response and request helpers the handlers share (paging is ``paging.py``).
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from harness.trakt_sandbox import cloudflare
from harness.trakt_sandbox.clock import iso
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.faults import Fault
from harness.trakt_sandbox.ratelimit import AUTHED_GET, AUTHED_WRITE, UNAUTHED_GET
from harness.trakt_sandbox.state import User

JSON_TYPE = "application/json; charset=utf-8"
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
F = TypeVar("F", bound=Callable[..., Any])


# -- responses -------------------------------------------------------------------------
def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status, headers, content_type=JSON_TYPE
    )


def error_response(
    status: int,
    error: str | None = None,
    description: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Trakt's API errors carry little; an empty body unless there is something to say."""
    if error is None:
        return Response(b"", status, headers, content_type=JSON_TYPE)
    body: dict[str, str] = {"error": error}
    if description is not None:
        body["error_description"] = description
    return json_response(body, status, headers)


def empty_response(status: int = 204) -> Response:
    return Response(b"", status)


def fault_response(fault: Fault) -> Response:
    if fault.preset is not None:
        answer = cloudflare.preset_response(fault.preset, fault.retry_after)
        answer.headers.update(fault.headers or {})
        return answer
    headers = dict(fault.headers or {})
    body = fault.body
    if body is None:
        payload = b""
    elif isinstance(body, (dict, list)):
        payload = json.dumps(body).encode()
        headers.setdefault("Content-Type", JSON_TYPE)
    else:
        payload = str(body).encode()
    headers.setdefault("Content-Type", JSON_TYPE)
    return Response(payload, fault.status or 500, headers)


# -- request helpers -------------------------------------------------------------------
def current_user() -> User | None:
    return g.get("user")


def user_required(view: F) -> F:
    """🔒 endpoints: a valid Bearer token is mandatory (before_request already vetted it)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return error_response(
                401,
                "invalid_token",
                "OAuth authorization required",
                {"WWW-Authenticate": 'Bearer realm="trakt"'},
            )
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def body() -> Any:
    """The parsed JSON body of a write (parsed once, in before_request)."""
    return g.get("body") or {}


def extended() -> frozenset[str]:
    value = request.args.get("extended")
    return frozenset(value.split(",")) if value else frozenset()


def wants_full() -> bool:
    return "full" in extended()


def images_host() -> str | None:
    """With ``extended=images``: the host the posters' URLs name (this sandbox, which
    serves them itself, as media.trakt.tv does for Trakt); None without."""
    return request.host if "images" in extended() else None


def flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("true", "1", "yes")


# -- the pipeline ----------------------------------------------------------------------
def _classify(path: str) -> str:
    if path.startswith("/_sandbox"):
        return "control"
    # The website's pages (trakt.tv and auth.trakt.tv): no API headers, no API limits.
    if path == "/" or path.startswith(("/oauth", "/activate", "/site/", "/images/")):
        return "oauth"
    return "api"


def _check_api_headers() -> Response | None:
    cfg = sandbox().config
    if cfg["SANDBOX_REQUIRE_API_VERSION"] and request.headers.get("trakt-api-version") != "2":
        return error_response(400, "invalid_request", "the trakt-api-version header must be 2")
    client_id = request.headers.get("trakt-api-key", "")
    if client_id not in sandbox().state.apps:
        return error_response(403, "forbidden", "invalid API key or unapproved app")
    g.client_id = client_id
    return None


def _authenticate() -> Response | None:
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, token_value = header.partition(" ")
    state = sandbox().state
    token = state.valid_token(token_value.strip()) if scheme.lower() == "bearer" else None
    user = state.user(token.username) if token else None
    if user is None:
        return error_response(
            401,
            "invalid_token",
            "the access token is invalid or expired",
            {"WWW-Authenticate": 'Bearer realm="trakt", error="invalid_token"'},
        )
    if user.locked or user.deactivated:
        return error_response(
            423,
            "locked",
            "this user account is locked",
            {
                "X-Account-Locked": "true" if user.locked else "false",
                "X-Account-Deactivated": "true" if user.deactivated else "false",
            },
        )
    g.user = user
    return None


def _rate_limit() -> Response | None:
    limiter = sandbox().limiter
    user = g.get("user")
    if request.method in WRITE_METHODS:
        rejection = limiter.hit(AUTHED_WRITE, user.username) if user else None
    elif user is not None:
        rejection = limiter.hit(AUTHED_GET, user.username)
    else:
        rejection = limiter.hit(UNAUTHED_GET, g.client_id, request.remote_addr or "")
    if rejection is None:
        return None
    return error_response(
        429,
        "rate_limit_exceeded",
        "too many requests",
        {"Retry-After": str(rejection.retry_after), "X-Ratelimit": rejection.header},
    )


def _parse_body() -> Response | None:
    if request.method not in WRITE_METHODS:
        return None
    if not request.content_length and request.method == "DELETE":
        return None
    if request.mimetype != "application/json":
        return error_response(412, "precondition_failed", "use Content-Type: application/json")
    raw = request.get_data(cache=True)
    if not raw.strip():
        g.body = {}
        return None
    try:
        g.body = json.loads(raw)
    except ValueError:
        return error_response(400, "bad_request", "the request body could not be parsed")
    return None


def before_request() -> Response | None:
    g.kind = kind = _classify(request.path)
    if kind == "control":
        return None
    g.started = time.perf_counter()
    sb = sandbox()
    fault = sb.faults.take(request.method, request.path)
    if fault is not None:
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if fault.status is not None or fault.preset is not None:
            return fault_response(fault)
    if sb.behaviour["firewall"] == "block-all":
        return cloudflare.blocked()
    if sb.config["SANDBOX_REQUIRE_USER_AGENT"] and not request.headers.get("User-Agent"):
        return cloudflare.blocked()
    if kind != "api":
        return None
    for step in (_check_api_headers, _authenticate, _rate_limit, _parse_body):
        answer = step()
        if answer is not None:
            return answer
    return None


def _application_headers(response: Response) -> None:
    """What Trakt's application (Rails) adds to all it answers, and Cloudflare's own
    pages lack: the way to tell the two 403s apart (CONTRACT 10, #939)."""
    if cloudflare.is_cloudflare(response):
        return
    response.headers["x-request-id"] = str(uuid.uuid4())
    response.headers["x-runtime"] = f"{time.perf_counter() - g.get('started', 0.0):.6f}"


def after_request(response: Response) -> Response:
    if g.get("kind", "control") != "control":
        _application_headers(response)
        user = g.get("user")
        sandbox().log.record(
            {
                "method": request.method,
                "path": request.path,
                "query": request.args.to_dict(),
                "status": response.status_code,
                "user": user.username if user else None,
                "at": iso(sandbox().clock.now()),
            }
        )
    return response


def handle_http_error(exc: HTTPException) -> Response:
    """Unknown routes (404) and methods (405) answer in JSON like the rest of the API."""
    headers = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    names = {404: "not_found", 405: "method_not_allowed"}
    return error_response(
        exc.code or 500, names.get(exc.code or 500, "error"), exc.description, headers
    )


def handle_crash(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_error(exc)
    return error_response(500, "server_error", f"{type(exc).__name__}: {exc}")


def install(app: Flask) -> None:
    app.before_request(before_request)
    app.after_request(after_request)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_crash)

"""A local, in-memory Trakt API v2 (API host and auth host in one Flask app) for tests.

``create_app(config=None)`` builds one; ``flask --app harness.trakt_sandbox:create_app run``
serves it. Configuration: the ``SANDBOX_*`` keys below, from environment variables (so
``flask run`` can be configured) and then from ``config``, which wins.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from harness.trakt_sandbox.behaviour import Behaviour
from harness.trakt_sandbox.clock import Clock
from harness.trakt_sandbox.context import EXTENSION, Sandbox
from harness.trakt_sandbox.faults import Faults
from harness.trakt_sandbox.media import Catalogue
from harness.trakt_sandbox.ratelimit import RateLimiter
from harness.trakt_sandbox.requestlog import RequestLog
from harness.trakt_sandbox.state import SandboxState

DEFAULTS: dict[str, Any] = {
    "SANDBOX_TOKEN_TTL": 604_800,  # 7 days, Trakt's lifetime since 2026 (CONTRACT 4.3)
    "SANDBOX_CODE_TTL": 600,
    "SANDBOX_DEVICE_TTL": 600,
    "SANDBOX_DEVICE_INTERVAL": 5,
    "SANDBOX_LEGACY_OAUTH_ERRORS": False,
    "SANDBOX_WATCHLIST_LIMIT": 250,  # free accounts since 2026-02 (CONTRACT 10)
    "SANDBOX_VIP_WATCHLIST_LIMIT": 5000,
    "SANDBOX_GET_PER_5MIN": 500,
    "SANDBOX_UNAUTHED_GET_PER_5MIN": 500,
    "SANDBOX_WRITES_PER_SECOND": 1,
    "SANDBOX_REQUIRE_USER_AGENT": True,
    "SANDBOX_REQUIRE_API_VERSION": True,
    "SANDBOX_DEMO_USERS": False,
    "SANDBOX_REQUEST_LOG_SIZE": 10_000,
    "SANDBOX_CATALOGUE": None,  # {"movies": [...], "shows": [...]} instead of harness.catalogue
    # Extra redirect URIs of the default app (comma-separated): the demo registers its host.
    "SANDBOX_REDIRECT_URIS": "",
}
__all__ = ["DEFAULTS", "create_app"]


def _from_environment() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        raw = os.environ.get(key)
        if raw is None or key == "SANDBOX_CATALOGUE":
            continue
        if isinstance(default, bool):
            values[key] = raw.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(default, int):
            values[key] = int(raw)
        else:
            values[key] = raw
    return values


def _titles(config: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    custom = config.get("SANDBOX_CATALOGUE")
    if custom:
        return list(custom.get("movies", [])), list(custom.get("shows", []))
    from harness import catalogue

    return list(catalogue.movies()), list(catalogue.shows())


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from harness.trakt_sandbox import (
        control,
        control_lists,
        device,
        discovery,
        home,
        images,
        oauth,
        protocol,
        site_ratings,
        summaries,
        sync_activities,
        sync_history,
        sync_ratings,
        sync_watched,
        sync_watchlist,
        users,
    )
    from harness.trakt_sandbox.account_limits import AccountLimits
    from harness.trakt_sandbox.control import reset_world

    settings = {**DEFAULTS, **_from_environment(), **(config or {})}
    app = Flask(__name__)
    app.config.update(settings)
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or "trakt-sandbox-not-a-secret"
    # The demo host runs on the same 127.0.0.1: keep the two apps' cookies apart.
    app.config["SESSION_COOKIE_NAME"] = "trakt_sandbox_session"
    app.json.sort_keys = False  # type: ignore[attr-defined]

    clock = Clock()
    catalogue = Catalogue(*_titles(settings))
    limiter = RateLimiter(
        clock,
        {
            "get_per_5min": settings["SANDBOX_GET_PER_5MIN"],
            "unauthed_get_per_5min": settings["SANDBOX_UNAUTHED_GET_PER_5MIN"],
            "writes_per_second": settings["SANDBOX_WRITES_PER_SECOND"],
        },
    )
    app.extensions[EXTENSION] = sb = Sandbox(
        config=settings,
        clock=clock,
        catalogue=catalogue,
        state=SandboxState(clock, catalogue, settings),
        limiter=limiter,
        faults=Faults(),
        log=RequestLog(int(settings["SANDBOX_REQUEST_LOG_SIZE"])),
        behaviour=Behaviour(),
        account_limits=AccountLimits(settings),
    )
    reset_world(sb)

    protocol.install(app)
    for module in (
        home,
        images,
        oauth,
        device,
        control,
        control_lists,
        users,
        sync_activities,
        sync_ratings,
        sync_history,
        sync_watched,
        sync_watchlist,
        discovery,
        summaries,
        site_ratings,
    ):
        app.register_blueprint(module.bp)
    return app

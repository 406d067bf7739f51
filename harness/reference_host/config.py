"""Configuration: defaults, then environment variables of the same names, then the dict
passed to ``create_app``.

Environment values arrive as strings. Host switches are parsed as booleans here; the
plugin's ``APERTURE_TRAKT_*`` values are passed through untouched, because their meaning
(and parsing) belongs to the plugin.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

DEV_SECRET_KEY = "demo-host-insecure-dev-key"
BOOLEAN_KEYS = {
    "APERTURE_LOAD_ENTRY_POINTS",
    "APERTURE_RUN_MIGRATIONS",
    "DEMO_AUTO_SEED",
    "DEMO_SEED_RATINGS",
    "DEMO_STRICT_CSP",
    "TESTING",
    "WTF_CSRF_ENABLED",
}
INTEGER_KEYS = {"DEMO_LIBRARY_PAGE_SIZE", "DEMO_SCHEDULER_INTERVAL"}
EXACT_ENV_KEYS = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"}
ENV_PREFIXES = ("APERTURE_", "DEMO_")


def defaults(app: Flask) -> dict[str, Any]:
    return {
        "SECRET_KEY": DEV_SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{Path(app.instance_path) / 'demo_host.db'}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "PUBLIC_BASE_URL": None,
        "APERTURE_PLUGINS": [],
        "APERTURE_LOAD_ENTRY_POINTS": True,
        "APERTURE_RUN_MIGRATIONS": True,
        "DEMO_AUTO_SEED": True,
        # Also seed other people with ratings (seed.DEMO_RATERS): the demo's Discovery
        # then has similar users to speak of from the first visit.
        "DEMO_SEED_RATINGS": False,
        "DEMO_LIBRARY_PAGE_SIZE": 50,
        "DEMO_SCHEDULER_INTERVAL": 5,
        # Every page under STRICT_CSP (app.py): what a locked-down host sends, so the
        # tests see that the plugin's cards need nothing inline.
        "DEMO_STRICT_CSP": False,
        # <html data-theme>: "light", "dark", or None to follow the OS; a "theme" cookie
        # of either value wins (the host's own toggle).
        "DEMO_THEME": None,
        # What HostServices.page_layout answers: the plugin's own pages inside this
        # template; "" for a host that names none (the pages then stand alone).
        "DEMO_PAGE_LAYOUT": "host/base.html",
    }


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in environ.items():
        if key not in EXACT_ENV_KEYS and not key.startswith(ENV_PREFIXES):
            continue
        if key in BOOLEAN_KEYS:
            found[key] = parse_bool(value)
        elif key in INTEGER_KEYS:
            found[key] = int(value)
        else:
            found[key] = value
    return found


def load_config(app: Flask, config: Mapping[str, Any] | None) -> None:
    app.config.update(defaults(app))
    app.config.update(from_environment(os.environ))
    app.config.update(config or {})
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", app.config["DATABASE_URL"])
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if app.config["SECRET_KEY"] == DEV_SECRET_KEY and not app.testing:
        log.warning("SECRET_KEY is not set: using the demo host's fixed development key")

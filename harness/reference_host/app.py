"""``create_app``: the reference host's factory.

Order of start-up: config, extensions, host tables (and the demo seed on an empty
database), then plugins: load, set up (they get ``DemoHostServices``), register their
blueprints and commands, and finally upgrade their migration lineages to head.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from aperture_trakt_plugin.discovery.posters import image_origins
from harness.reference_host import admin, auth, pages
from harness.reference_host.cli import demo
from harness.reference_host.config import load_config
from harness.reference_host.db import db, tune_sqlite
from harness.reference_host.models import create_host_tables
from harness.reference_host.plugins import build_plugin_manager, run_migrations, setup_plugins
from harness.reference_host.seed import is_empty, seed
from harness.reference_host.services import DemoHostServices

log = logging.getLogger(__name__)
INSTANCE_PATH = Path(__file__).resolve().parents[2] / ".demo" / "instance"
csrf = CSRFProtect()
#: DEMO_STRICT_CSP's policy: nothing inline, nothing from elsewhere but the posters,
#: from the origins the host contract names ("Posters"; {images} in the policy).
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: {images}; "
    "frame-ancestors 'self'"
)
THEMES = ("light", "dark")


def _error_page(error: HTTPException) -> tuple[str, int]:
    return render_template("host/error.html", error=error), error.code or 500


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_template("host/error.html", error=error), 400


def _theme() -> dict[str, str | None]:
    """``<html data-theme>``: the visitor's "theme" cookie, else DEMO_THEME, else none
    (the CSS follows prefers-color-scheme)."""
    chosen = request.cookies.get("theme") or current_app.config["DEMO_THEME"]
    return {"theme": chosen if chosen in THEMES else None}


def strict_csp(api_url: str | None) -> str:
    return STRICT_CSP.format(images=" ".join(image_origins(api_url)))


def _send_strict_csp(app: Flask) -> None:
    """After the plugin's ``init_app``, which may have set the API's URL: the policy is
    made once, not on every response."""
    policy = strict_csp(app.config.get("APERTURE_TRAKT_API_URL"))

    def add_policy(response: Response) -> Response:
        response.headers.add("Content-Security-Policy", policy)
        return response

    app.after_request(add_policy)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_PATH))
    load_config(app, config)

    db.init_app(app)
    csrf.init_app(app)
    auth.init_auth(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    app.cli.add_command(demo)
    for code in (400, 403, 404, 500):
        app.register_error_handler(code, _error_page)
    app.register_error_handler(CSRFError, _csrf_error)
    app.context_processor(_theme)

    with app.app_context():
        tune_sqlite(db.engine)
        create_host_tables()
        raters = app.config["DEMO_SEED_RATINGS"]
        # With the raters (the demo), also a database from an earlier demo gets them.
        if app.config["DEMO_AUTO_SEED"] and (raters or is_empty()):
            report = seed(raters=raters)
            log.info("seeded the database: %s", report)

    pm = build_plugin_manager(app)
    host = DemoHostServices(app)
    app.extensions["aperture_plugins"] = pm
    app.extensions["aperture_host"] = host
    setup_plugins(app, pm, host)
    if app.config["DEMO_STRICT_CSP"]:
        _send_strict_csp(app)
    if app.config["APERTURE_RUN_MIGRATIONS"]:
        with app.app_context():
            run_migrations(pm, db.engine)
    return app

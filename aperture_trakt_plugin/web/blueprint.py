"""The plugin's blueprint: its URL prefix, the hooks every request goes through, and
which module answers which routes.

Kept to the wiring so that the order of the guards (CSRF before any view, the notice
check and the headers around every page) is read in one place, apart from the views.
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.host import HostServices
from aperture_trakt_plugin.queueing import scheduling
from aperture_trakt_plugin.web import admin, connect, csrf, discover, profile, status
from aperture_trakt_plugin.web.headers import protect_host_page, protect_own_page
from aperture_trakt_plugin.web.notices import forget_other_users_state
from aperture_trakt_plugin.web.pages import BLUEPRINT_NAME, STATIC_URL_PATH


def create_blueprint(host: HostServices) -> Blueprint:
    bp = Blueprint(
        BLUEPRINT_NAME,
        __name__,
        url_prefix=extension.URL_PREFIX,
        template_folder=str(files("aperture_trakt_plugin.web.templates")),
        # trakt.css and trakt.js: no inline style or script, so a host's strict CSP
        # needs only 'self' (docs/host-contract.md, "Content-Security-Policy").
        static_folder=str(files("aperture_trakt_plugin.web") / "static"),
        static_url_path=STATIC_URL_PATH,
    )
    bp.before_request(csrf.protect)
    bp.before_app_request(scheduling.keep_scheduled)
    bp.before_app_request(forget_other_users_state)
    bp.after_request(protect_own_page)
    bp.after_app_request(protect_host_page)
    for module in (admin, status, profile, connect, discover):
        module.register(bp, host)
    return bp

"""The plugin's blueprint and the HTML it contributes to the host's pages.

Cards rendered into host pages (through the template-slot hooks) post to routes
here, which redirect back to the page the card was on. The outcome of a post is kept
in the session under the plugin's own key, so the card shows it in place whatever
the host does with Flask's flashed messages.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session
from markupsafe import Markup

from aperture_trakt_plugin import credentials, csrf, extension
from aperture_trakt_plugin.host import HostServices, HostUser
from aperture_trakt_plugin.settings import OOB_REDIRECT_URI

NOTICE_KEY = "aperture_trakt.notice"
ADMIN_CARD_ANCHOR = "#trakt-integration"


def _safe_next(value: str | None, fallback: str) -> str:
    """Only a path on this server: the card's ``next`` must not become an open redirect."""
    if not value:
        return fallback
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return fallback
    return value


def _notice(card: str, level: str, message: str, **extra: Any) -> None:
    session[NOTICE_KEY] = {"card": card, "level": level, "message": message, **extra}


def _pop_notice(card: str) -> dict[str, Any] | None:
    notice = session.get(NOTICE_KEY)
    if notice and notice.get("card") == card:
        session.pop(NOTICE_KEY, None)
        return notice
    return None


def render_admin_card(user: HostUser) -> Markup:
    state = extension.state()
    return Markup(render_template(
        "trakt/admin_integrations.html",
        settings=state.settings.masked(),
        configured=state.settings.is_configured(),
        redirect_uri=extension.effective_redirect_uri(),
        default_redirect_uri=extension.default_redirect_uri(),
        oob_redirect_uri=OOB_REDIRECT_URI,
        uses_device_flow=extension.uses_device_flow(),
        notice=_pop_notice("admin"),
        csrf_token=csrf.token(),
        next_url=request.path + ADMIN_CARD_ANCHOR,
    ))


def create_blueprint(host: HostServices) -> Blueprint:
    bp = Blueprint("trakt", __name__, url_prefix=extension.URL_PREFIX,
                   template_folder=str(files("aperture_trakt_plugin.templates")))
    bp.before_request(csrf.protect)

    @bp.post("/admin/settings")
    @host.admin_required
    def save_admin_settings():  # type: ignore[no-untyped-def]
        form = request.form
        user = host.current_user()
        outcome = credentials.save_app_credentials(
            form.get("client_id"), form.get("client_secret"), form.get("redirect_uri"),
            user.id if user else None, force=form.get("save_anyway") == "1",
        )
        _notice("admin", "success" if outcome.saved else "error", outcome.message,
                offer_save_anyway=not outcome.saved and outcome.checked)
        return redirect(_safe_next(form.get("next"), "/" + ADMIN_CARD_ANCHOR))

    return bp

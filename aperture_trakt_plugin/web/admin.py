"""The admin's Integrations card (the Trakt app's credentials) and the form it posts.

The card is rendered into the host's settings page; saving goes through the same
save-and-check as ``flask trakt settings set``, and the outcome waits in a notice for
the card, back on the page it was posted from.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request
from markupsafe import Markup

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import credentials
from aperture_trakt_plugin.host import HostServices, HostUser
from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from aperture_trakt_plugin.web import csrf
from aperture_trakt_plugin.web.headers import card_rendered
from aperture_trakt_plugin.web.notices import notice, pop_notice
from aperture_trakt_plugin.web.pages import render, safe_next

ADMIN_CARD_ANCHOR = "#trakt-integration"


def credentials_problem() -> str | None:
    return extension.state().settings.credentials_problem()


def render_admin_card(user: HostUser) -> Markup:
    card_rendered()
    state = extension.state()
    return Markup(
        render(
            "trakt/admin_integrations.html",
            credentials_problem=credentials_problem(),
            settings=state.settings.masked(),
            configured=state.settings.is_configured(),
            redirect_uri=extension.effective_redirect_uri(),
            default_redirect_uri=extension.default_redirect_uri(),
            oob_redirect_uri=OOB_REDIRECT_URI,
            uses_device_flow=extension.uses_device_flow(),
            notice=pop_notice("admin"),
            csrf_token=csrf.token(),
            next_url=request.path + ADMIN_CARD_ANCHOR,
        )
    )


def register(bp: Blueprint, host: HostServices) -> None:
    @bp.post("/admin/settings")
    @host.admin_required
    def save_admin_settings():  # type: ignore[no-untyped-def]
        form = request.form
        user = host.current_user()
        outcome = credentials.save_app_credentials(
            form.get("client_id"),
            form.get("client_secret"),
            form.get("redirect_uri"),
            user.id if user else None,
            force=form.get("save_anyway") == "1",
        )
        notice(
            "admin",
            "success" if outcome.saved else "error",
            outcome.message,
            offer_save_anyway=not outcome.saved and outcome.checked,
        )
        return redirect(safe_next(form.get("next"), "/" + ADMIN_CARD_ANCHOR))

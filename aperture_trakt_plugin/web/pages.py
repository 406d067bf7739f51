"""What every page and route of the plugin's own shares: the blueprint's name, rendering
with the texts, and where a form may send the browser back.

Cards rendered into host pages post to our routes, which redirect back to the page the
card was on; the one check of that address lives here so no route can skip it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import render_template

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.web import texts

if TYPE_CHECKING:
    from aperture_trakt_plugin.host import HostServices, HostUser

BLUEPRINT_NAME = "trakt"
#: Under the blueprint's prefix: /plugins/trakt/static/trakt/trakt.css and trakt.js.
STATIC_URL_PATH = "/static"
STATIC_ENDPOINT = f"{BLUEPRINT_NAME}.static"
PROFILE_FALLBACK = "/"


def messages() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(texts).items()
        if name.startswith("MSG_") and isinstance(value, str)
    }


def render(template: str, **context: Any) -> str:
    """``render_template`` with the texts of ``texts`` available to the template by name,
    and the host's page layout for the plugin's own pages (``trakt/admin_page.html``)."""
    return render_template(template, **messages(), page_layout=page_layout(), **context)


def page_layout() -> str | None:
    """``HostServices.page_layout``; None for a host without it (an optional member)."""
    layout = getattr(extension.state().host, "page_layout", None)
    return layout() if callable(layout) else None


def signed_in(host: HostServices) -> HostUser:
    """The user of a ``host.login_required`` view's request."""
    user = host.current_user()
    assert user is not None  # login_required lets only a signed-in request through
    return user


def safe_next(value: str | None, fallback: str) -> str:
    """Only a path on this server: the card's ``next`` must not become an open redirect.
    Browsers read a backslash as a slash, so ``/\\evil.example`` counts as ``//evil.example``."""
    if not value:
        return fallback
    parts = urlsplit(value)
    if (
        parts.scheme
        or parts.netloc
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
    ):
        return fallback
    return value

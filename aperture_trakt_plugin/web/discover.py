"""The "Not interested" button the plugin's discovery sources put on the host's pages.

The host lists our titles, but the button posts here: hiding must act for the signed-in
user at once and answer through the host's flashed messages, since the discovery page
has no card of ours to show a notice in.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request

from aperture_trakt_plugin.discovery import hide
from aperture_trakt_plugin.discovery.keys import form_ids
from aperture_trakt_plugin.host import HostServices
from aperture_trakt_plugin.web.notices import FLASH_CARD, notice
from aperture_trakt_plugin.web.pages import safe_next, signed_in

DISCOVER_FALLBACK = "/discover"

MSG_HIDE_FAILED = "Could not hide that title: {reason}."
MSG_HIDDEN = "{title} is hidden from your discovery."


def register(bp: Blueprint, host: HostServices) -> None:
    @bp.post("/discover/hide")  # discovery.sources.HIDE_PATH
    @host.login_required
    def hide_title():  # type: ignore[no-untyped-def]
        """Not interested: hidden for the current user at once (the call to Trakt is a
        job), then back to the page the button was on, which no longer lists it."""
        form = request.form
        back = safe_next(form.get("next"), DISCOVER_FALLBACK)
        try:
            ids = form_ids(form)
            row = hide.hide(signed_in(host).id, form.get("kind", ""), ids, form.get("title", ""))
        except ValueError as exc:
            notice(FLASH_CARD, "error", MSG_HIDE_FAILED.format(reason=exc))
            return redirect(back)
        notice(FLASH_CARD, "success", MSG_HIDDEN.format(title=row.title or "The title"))
        return redirect(back)

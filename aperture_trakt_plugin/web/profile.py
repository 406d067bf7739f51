"""The user's Trakt card on their profile, and the route that redraws it alone.

The card is rendered into the host's profile page, and fetched again by itself after a
sign-in popup closes or a device code is polled, so both go through one function.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, request
from markupsafe import Markup

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import oauth, tokens
from aperture_trakt_plugin.discovery import watchlist
from aperture_trakt_plugin.host import HostServices, HostUser
from aperture_trakt_plugin.storage.models import TraktDeviceGrant
from aperture_trakt_plugin.usecases import diagnosis
from aperture_trakt_plugin.web import csrf
from aperture_trakt_plugin.web.headers import card_rendered
from aperture_trakt_plugin.web.notices import pop_notice
from aperture_trakt_plugin.web.pages import PROFILE_FALLBACK, render, safe_next, signed_in

WATCHLIST_PREVIEW = 5  # titles the profile card lists; the count covers the rest
#: After connecting, the card redraws itself every few seconds until the first sync and
#: the first read of the watchlist are in (the jobs that make them were queued by the
#: connect): the person sees them arrive without a reload. For this long at most after
#: connecting, so a server whose workers are down is not polled for ever.
LIVE_FOR = timedelta(minutes=10)
LIVE_EVERY = 3  # seconds between redraws


def render_profile_card(user: HostUser, next_url: str | None = None) -> Markup:
    card_rendered()
    state = extension.state()
    conn = tokens.store().get(user.id)
    grant = state.host.db.session.get(TraktDeviceGrant, user.id)
    shown = watchlist.summary(user.id) if conn is not None else None
    live = (
        conn is not None
        and shown is not None
        and (conn.last_sync_at is None or shown.fetched_at is None)
        and not conn.needs_reconnect
        and datetime.now(UTC) - conn.connected_at < LIVE_FOR
    )
    return Markup(
        render(
            "trakt/profile_card.html",
            configured=state.settings.is_configured(),
            conn=conn,
            diagnosis=diagnosis.diagnose(user.id) if conn is not None else None,
            device=grant,
            # Checked again as it is shown: a grant stored before the check came in.
            device_link=oauth.trusted_verification_url(grant.verification_url) if grant else "",
            device_only=extension.uses_device_flow(),
            notice=pop_notice("profile"),
            csrf_token=csrf.token(),
            next_url=next_url or request.path,
            watchlist=shown,
            watchlist_preview=WATCHLIST_PREVIEW,
            live_every=LIVE_EVERY if live else None,
        )
    )


def register(bp: Blueprint, host: HostServices) -> None:
    @bp.get("/profile-card")
    @host.login_required
    def profile_card():  # type: ignore[no-untyped-def]
        """The card alone, so the profile can redraw it after a popup or a device poll."""
        user = signed_in(host)
        return render_profile_card(user, safe_next(request.args.get("next"), PROFILE_FALLBACK))

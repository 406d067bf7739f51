"""Connecting and disconnecting a Trakt account from the profile card: the OAuth popup
(connect, callback), the device code (start, poll) and Disconnect.

Apart from the card because these routes change the account and carry a sign-in under
way in the session (whose checks belong together), while the card only shows the
outcome: each route leaves it a notice, and the card redraws itself.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, request, session

from aperture_trakt_plugin.accounts import oauth
from aperture_trakt_plugin.host import HostServices
from aperture_trakt_plugin.storage.models import TraktDeviceGrant
from aperture_trakt_plugin.trakt.errors import TraktError
from aperture_trakt_plugin.usecases import connections
from aperture_trakt_plugin.web.notices import notice
from aperture_trakt_plugin.web.pages import PROFILE_FALLBACK, render, safe_next, signed_in

OAUTH_KEY = "aperture_trakt.oauth"

MSG_DENIED = "You did not allow this server to use your Trakt account; nothing was connected."
MSG_STATE_MISMATCH = (
    "This Trakt sign-in did not start here or has expired. Nothing was "
    "connected; start again from your profile."
)
MSG_OTHER_USER = (
    "This Trakt sign-in was started by another user of this server. Nothing was "
    "connected; start again from your own profile."
)
MSG_DISCONNECTED = (
    "Disconnected from Trakt. Your ratings on this server stay as they are; nothing syncs any more."
)
MSG_REFUSED = "Trakt refused the connection: {error}."


def _finish_oauth(ok: bool, message: str, next_url: str) -> str:
    """The popup's last page: tells the opener (same origin only) and closes, or, with no
    opener (popup blocked, mobile), takes this tab back to the profile."""
    notice("profile", "success" if ok else "error", message)
    return render("trakt/connect_result.html", ok=ok, message=message, next_url=next_url)


def register(bp: Blueprint, host: HostServices) -> None:
    @bp.get("/connect")
    @host.login_required
    def connect():  # type: ignore[no-untyped-def]
        user = signed_in(host)
        next_url = safe_next(request.args.get("next"), PROFILE_FALLBACK)
        try:
            auth = oauth.authorization_request()
        except TraktError as exc:
            return _finish_oauth(False, str(exc), next_url)
        session[OAUTH_KEY] = {
            "state": auth.state,
            "verifier": auth.code_verifier,
            "user_id": user.id,
            "next": next_url,
        }
        return redirect(auth.url)

    @bp.get("/callback")
    @host.login_required
    def callback():  # type: ignore[no-untyped-def]
        user = signed_in(host)
        started = session.pop(OAUTH_KEY, None) or {}
        next_url = started.get("next") or PROFILE_FALLBACK
        if not started or request.args.get("state") != started.get("state"):
            return _finish_oauth(False, MSG_STATE_MISMATCH, next_url)
        if started.get("user_id") != user.id:
            return _finish_oauth(False, MSG_OTHER_USER, next_url)
        if request.args.get("error"):
            error = request.args["error"]
            return _finish_oauth(
                False,
                MSG_DENIED if error == "access_denied" else MSG_REFUSED.format(error=error),
                next_url,
            )
        code = request.args.get("code")
        if not code:
            return _finish_oauth(False, MSG_STATE_MISMATCH, next_url)
        try:
            pair = oauth.exchange_code(code, started["verifier"])
            conn = connections.finish_connection(user.id, pair)
        except TraktError as exc:
            return _finish_oauth(False, str(exc), next_url)
        return _finish_oauth(
            True, connections.MSG_CONNECTED.format(username=conn.trakt_username), next_url
        )

    @bp.post("/device/start")
    @host.login_required
    def device_start():  # type: ignore[no-untyped-def]
        try:
            state = connections.start_device(signed_in(host).id)
        except TraktError as exc:
            notice("profile", "error", str(exc))  # the card redraws after any answer
            return jsonify({"status": "error", "message": str(exc)}), 502
        return jsonify(state.as_json())

    @bp.post("/device/poll")
    @host.login_required
    def device_poll():  # type: ignore[no-untyped-def]
        user = signed_in(host)
        try:
            state = connections.poll_device(user.id)
        except TraktError as exc:
            if host.db.session.get(TraktDeviceGrant, user.id) is None:
                # The flow ended with this error (the code was used up): the redrawn card
                # must say why; while the code lives the card keeps polling instead.
                notice("profile", "error", str(exc))
            return jsonify({"status": "error", "message": str(exc)}), 502
        if state.finished and state.status != "none":
            notice("profile", "success" if state.status == "connected" else "error", state.message)
        return jsonify(state.as_json())

    @bp.post("/disconnect")
    @host.login_required
    def disconnect():  # type: ignore[no-untyped-def]
        connections.disconnect(signed_in(host).id)
        notice("profile", "success", MSG_DISCONNECTED)
        return redirect(safe_next(request.form.get("next"), PROFILE_FALLBACK))

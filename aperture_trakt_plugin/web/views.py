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

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from markupsafe import Markup

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import credentials, oauth, tokens
from aperture_trakt_plugin.discovery import hide, watchlist
from aperture_trakt_plugin.discovery.keys import form_ids
from aperture_trakt_plugin.host import HostServices, HostUser
from aperture_trakt_plugin.queueing import scheduling
from aperture_trakt_plugin.storage.models import TraktDeviceGrant
from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from aperture_trakt_plugin.trakt.device_flow import MSG_DEVICE_URL_UNTRUSTED  # noqa: F401 (templates)
from aperture_trakt_plugin.trakt.errors import TraktError
from aperture_trakt_plugin.usecases import connections, diagnosis
from aperture_trakt_plugin.web import csrf

NOTICE_KEY = "aperture_trakt.notice"
FLASH_CARD = "flash"  # a notice for the host's flashed messages, not for one of our cards
OAUTH_KEY = "aperture_trakt.oauth"
ADMIN_CARD_ANCHOR = "#trakt-integration"
PROFILE_FALLBACK = "/"
DISCOVER_FALLBACK = "/discover"
WATCHLIST_PREVIEW = 5  # titles the profile card lists; the count covers the rest

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
MSG_HIDE_FAILED = "Could not hide that title: {reason}."
MSG_HIDDEN = "{title} is hidden from your discovery."

# The templates' own texts about a problem or a state. Every template gets all of this
# module's MSG_ constants by name (``_render``), so a text a person may need to look up
# lives here, where tests/test_docs_troubleshooting.py finds it, and not in the HTML.
MSG_APP_REFUSED_NOTE = (
    "Nobody's ratings sync until the Client ID and Client Secret under "
    "Settings → Integrations are fixed. Check the app at "
    "https://developer.trakt.tv: Trakt deletes an app when its owner's "
    "VIP lapses or when nobody is connected to it, and a new app then "
    "needs its own Client ID and Client Secret here."
)
MSG_CREATE_APP_HINT = (
    "Create the app at https://developer.trakt.tv. Creating and keeping "
    "an app needs an active Trakt VIP account: Trakt deletes the apps of "
    "owners whose VIP lapsed, and apps nobody is connected to, and a "
    "deleted app's Client ID is refused (403)."
)
MSG_FREE_ACCOUNT_HINT = (
    "A free Trakt account can keep only one connected community app, "
    "and this server is one: a user who connects another app to Trakt "
    "may find this server disconnected (\u201cneeds reconnecting\u201d)."
)
MSG_NOT_SET_UP_CARD = (
    "Trakt is not set up on this server yet. An admin has to add a Trakt "
    "app under Settings → Integrations before you can connect your account."
)
MSG_RECONNECT_CARD = "{reason} Syncing is paused until you reconnect."
MSG_RECONNECT_HELP = (
    "To resume, connect again here. If you use a free Trakt account: "
    "Trakt lets it keep only one connected app, so connecting another app "
    "may have disconnected this server. Disconnect the other app in your "
    "Trakt account's settings (or upgrade to Trakt VIP), then connect again "
    "here."
)
MSG_ACCESS_GONE_CARD = "Trakt no longer accepts this server's access to your account."
MSG_DEVICE_WAITING_UNTIL = (
    "Waiting for you to enter the code on Trakt… (the code expires at {time})"
)
MSG_NEVER_SYNCED = "not synced yet"
MSG_SCHEDULE_OFF = "scheduled syncs are switched off"
MSG_QUEUE_UNKNOWN = "unknown (the job queue could not be reached)"
MSG_UNMATCHED_HINT = "These Trakt ratings are applied here when the title arrives in the library."
MSG_NOT_FOUND_HINT = (
    "Trakt did not recognise these ratings of yours; they are tried again when you change them."
)
MSG_OVER_LIMIT_HINT = (
    "Your Trakt account holds as many ratings as its tier allows; these "
    "stay here and go to Trakt once there is room (remove some ratings "
    "on Trakt, or upgrade to VIP)."
)
MSG_WATCHLIST_NOT_READ = "Not read from Trakt yet; it appears after the next discovery refresh."
MSG_WATCHLIST_EMPTY = "Your Trakt watchlist is empty."
MSG_WATCHLIST_FAILED = "Last read failed: {error}"
MSG_BLOCKED_HINT = (
    "These syncs stopped because they would remove many ratings on this "
    "server. Check with the user, then let the sync go ahead once, or dismiss "
    "it (it stops again at the next run if nothing changed)."
)
MSG_NOBODY_CONNECTED = "Nobody has connected a Trakt account yet."
MSG_SET_PUBLIC_URL = (
    "This server's public URL is not configured, so the plugin cannot tell "
    "Trakt where to send users back after they sign in (it never trusts "
    "the address a request claims); until then users connect with a "
    "code. Set the public URL (APERTURE_TRAKT_PUBLIC_URL, or the host's "
    "own setting, such as PUBLIC_BASE_URL on the reference host), then "
    "register the redirect URI shown here at Trakt."
)


def _messages() -> dict[str, str]:
    return {
        name: value
        for name, value in globals().items()
        if name.startswith("MSG_") and isinstance(value, str)
    }


def _render(template: str, **context: Any) -> str:
    """``render_template`` with the messages above available to the template by name."""
    return render_template(template, **_messages(), **context)


def _safe_next(value: str | None, fallback: str) -> str:
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


def _current_user_id() -> int | None:
    user = extension.state().host.current_user()
    return user.id if user else None


def _notice(card: str, level: str, message: str, **extra: Any) -> None:
    """Keeps the outcome for the card to show, tagged with the user it is about: the
    browser's session outlives a logout, and the next person on it must not see it."""
    session[NOTICE_KEY] = {
        "card": card,
        "level": level,
        "message": message,
        "user_id": _current_user_id(),
        **extra,
    }


def _pop_notice(card: str) -> dict[str, Any] | None:
    notice = session.get(NOTICE_KEY)
    if notice and notice.get("card") == card and notice.get("user_id") == _current_user_id():
        session.pop(NOTICE_KEY, None)
        return notice
    return None


def forget_other_users_state() -> None:
    """``before_app_request``: a notice that belongs to someone else than whoever is
    signed in now (after a logout, or another login on the same browser) is dropped
    before anything can show it. A hide's outcome is handed to the host's flashed
    messages here, on the next page the same user opens, so it cannot wait in the
    session for the next user either. (A Trakt sign-in under way stays: its callback
    says "started by another user", which is clearer than a silent drop.)"""
    notice = session.get(NOTICE_KEY)
    if notice is None:
        return
    if not isinstance(notice, dict) or notice.get("user_id") != _current_user_id():
        session.pop(NOTICE_KEY, None)
    elif notice.get("card") == FLASH_CARD and request.method == "GET":
        session.pop(NOTICE_KEY, None)
        flash(notice["message"], notice["level"])


#: Headers every page of the plugin's own sends. Nothing of ours is meant to sit in a
#: frame (the card is fetched, the connect result is a pop-up window), so a page showing
#: a Disconnect button or a device code can never be clickjacked from another site; and
#: no copy of a page about someone's account may stay in a shared or back-button cache.
OWN_PAGE_HEADERS = {"X-Frame-Options": "DENY", "Cache-Control": "no-store"}
OWN_FRAME_ANCESTORS = "frame-ancestors 'none'"
#: For the host's pages a card of ours was rendered into: the host may frame its own
#: pages, so only other sites are kept out; the account state still must not be cached.
HOST_PAGE_HEADERS = {"X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"}
HOST_FRAME_ANCESTORS = "frame-ancestors 'self'"
CARD_RENDERED = "aperture_trakt_card_rendered"
BLUEPRINT_NAME = "trakt"


def _add_frame_ancestors(response: Response, directive: str) -> None:
    """Adds a CSP of its own unless the page already has a ``frame-ancestors`` rule:
    browsers enforce every CSP header a page has, so a host's policy is left intact."""
    if not any(
        "frame-ancestors" in value for value in response.headers.getlist("Content-Security-Policy")
    ):
        response.headers.add("Content-Security-Policy", directive)


def protect_own_page(response: Response) -> Response:
    """``after_request`` of the blueprint: anti-framing and no-store on every answer."""
    response.headers.update(OWN_PAGE_HEADERS)
    _add_frame_ancestors(response, OWN_FRAME_ANCESTORS)
    return response


def protect_host_page(response: Response) -> Response:
    """``after_app_request``: a host page that shows a card of ours (profile, admin
    integrations, jobs) shows account state, so it gets the same protection. A framing
    rule the host set itself is kept (it may be stricter)."""
    if g.get(CARD_RENDERED) and request.blueprint != BLUEPRINT_NAME:  # ours: DENY above
        response.headers["Cache-Control"] = HOST_PAGE_HEADERS["Cache-Control"]
        response.headers.setdefault("X-Frame-Options", HOST_PAGE_HEADERS["X-Frame-Options"])
        _add_frame_ancestors(response, HOST_FRAME_ANCESTORS)
    return response


def _card_rendered() -> None:
    g.setdefault(CARD_RENDERED, True)


def credentials_problem() -> str | None:
    return extension.state().settings.credentials_problem()


def render_admin_card(user: HostUser) -> Markup:
    _card_rendered()
    state = extension.state()
    return Markup(
        _render(
            "trakt/admin_integrations.html",
            credentials_problem=credentials_problem(),
            settings=state.settings.masked(),
            configured=state.settings.is_configured(),
            redirect_uri=extension.effective_redirect_uri(),
            default_redirect_uri=extension.default_redirect_uri(),
            oob_redirect_uri=OOB_REDIRECT_URI,
            uses_device_flow=extension.uses_device_flow(),
            notice=_pop_notice("admin"),
            csrf_token=csrf.token(),
            next_url=request.path + ADMIN_CARD_ANCHOR,
        )
    )


def render_profile_card(user: HostUser, next_url: str | None = None) -> Markup:
    _card_rendered()
    state = extension.state()
    conn = tokens.store().get(user.id)
    grant = state.host.db.session.get(TraktDeviceGrant, user.id)
    return Markup(
        _render(
            "trakt/profile_card.html",
            configured=state.settings.is_configured(),
            conn=conn,
            diagnosis=diagnosis.diagnose(user.id) if conn is not None else None,
            device=grant,
            # Checked again as it is shown: a grant stored before the check came in.
            device_link=oauth.trusted_verification_url(grant.verification_url) if grant else "",
            device_only=extension.uses_device_flow(),
            notice=_pop_notice("profile"),
            csrf_token=csrf.token(),
            next_url=next_url or request.path,
            watchlist=watchlist.summary(user.id) if conn is not None else None,
            watchlist_preview=WATCHLIST_PREVIEW,
        )
    )


def render_blocked_syncs() -> Markup | None:
    """The jobs screen's Trakt card: syncs stopped by the mass-removal guard (for an admin
    to confirm), a refusal of the app's credentials, and the way to the status page."""
    _card_rendered()
    from sqlalchemy import select

    from aperture_trakt_plugin.storage.models import TraktConnection

    state = extension.state()
    blocked = state.host.db.session.scalars(
        select(TraktConnection).where(TraktConnection.blocked_reason.is_not(None))
    ).all()
    problem = credentials_problem()
    if not blocked and problem is None and not diagnosis.anyone_connected():
        return None
    users = {conn.user_id: state.host.get_user(conn.user_id) for conn in blocked}
    return Markup(
        _render(
            "trakt/admin_blocked_syncs.html",
            blocked=blocked,
            users=users,
            credentials_problem=problem,
            csrf_token=csrf.token(),
            next_url=request.path,
        )
    )


def _finish_oauth(ok: bool, message: str, next_url: str) -> str:
    """The popup's last page: tells the opener (same origin only) and closes, or, with no
    opener (popup blocked, mobile), takes this tab back to the profile."""
    _notice("profile", "success" if ok else "error", message)
    return _render("trakt/connect_result.html", ok=ok, message=message, next_url=next_url)


def create_blueprint(host: HostServices) -> Blueprint:
    bp = Blueprint(
        BLUEPRINT_NAME,
        __name__,
        url_prefix=extension.URL_PREFIX,
        template_folder=str(files("aperture_trakt_plugin.web.templates")),
    )
    bp.before_request(csrf.protect)
    bp.before_app_request(scheduling.keep_scheduled)
    bp.before_app_request(forget_other_users_state)
    bp.after_request(protect_own_page)
    bp.after_app_request(protect_host_page)

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
        _notice(
            "admin",
            "success" if outcome.saved else "error",
            outcome.message,
            offer_save_anyway=not outcome.saved and outcome.checked,
        )
        return redirect(_safe_next(form.get("next"), "/" + ADMIN_CARD_ANCHOR))

    @bp.post("/admin/confirm-sync/<int:user_id>")
    @host.admin_required
    def confirm_sync(user_id: int):  # type: ignore[no-untyped-def]
        """An admin lets a sync that would remove many ratings go ahead, once."""
        from aperture_trakt_plugin.usecases import jobs

        if request.form.get("decision") == "dismiss":
            conn = tokens.store().get(user_id)
            if conn is not None:
                conn.blocked_reason = None
                host.db.session.commit()
        else:
            jobs.enqueue_user_sync(user_id, "confirmed by an admin", force=True)
        return redirect(_safe_next(request.form.get("next"), PROFILE_FALLBACK))

    @bp.get("/admin/status")
    @host.admin_required
    def admin_status():  # type: ignore[no-untyped-def]
        """Every connected user's first reason for not syncing, for an admin asked "why"."""
        rows = []
        for user_id in diagnosis.connected_user_ids():
            user = host.get_user(user_id)
            rows.append(
                (user.name if user else f"#{user_id}", diagnosis.diagnose(user_id, for_admin=True))
            )
        return _render(
            "trakt/admin_status.html", rows=rows, credentials_problem=credentials_problem()
        )

    @bp.get("/admin/status/<int:user_id>")
    @host.admin_required
    def admin_status_user(user_id: int):  # type: ignore[no-untyped-def]
        user = host.get_user(user_id)
        if user is None:
            abort(404)
        return _render(
            "trakt/admin_status_user.html",
            name=user.name,
            diagnosis=diagnosis.diagnose(user_id, for_admin=True),
            credentials_problem=credentials_problem(),
        )

    @bp.get("/profile-card")
    @host.login_required
    def profile_card():  # type: ignore[no-untyped-def]
        """The card alone, so the profile can redraw it after a popup or a device poll."""
        user = host.current_user()
        return render_profile_card(user, _safe_next(request.args.get("next"), PROFILE_FALLBACK))

    @bp.get("/connect")
    @host.login_required
    def connect():  # type: ignore[no-untyped-def]
        user = host.current_user()
        next_url = _safe_next(request.args.get("next"), PROFILE_FALLBACK)
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
        user = host.current_user()
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
            state = connections.start_device(host.current_user().id)
        except TraktError as exc:
            _notice("profile", "error", str(exc))  # the card redraws after any answer
            return jsonify({"status": "error", "message": str(exc)}), 502
        return jsonify(state.as_json())

    @bp.post("/device/poll")
    @host.login_required
    def device_poll():  # type: ignore[no-untyped-def]
        user = host.current_user()
        try:
            state = connections.poll_device(user.id)
        except TraktError as exc:
            if host.db.session.get(TraktDeviceGrant, user.id) is None:
                # The flow ended with this error (the code was used up): the redrawn card
                # must say why; while the code lives the card keeps polling instead.
                _notice("profile", "error", str(exc))
            return jsonify({"status": "error", "message": str(exc)}), 502
        if state.finished and state.status != "none":
            _notice("profile", "success" if state.status == "connected" else "error", state.message)
        return jsonify(state.as_json())

    @bp.post("/disconnect")
    @host.login_required
    def disconnect():  # type: ignore[no-untyped-def]
        connections.disconnect(host.current_user().id)
        _notice("profile", "success", MSG_DISCONNECTED)
        return redirect(_safe_next(request.form.get("next"), PROFILE_FALLBACK))

    @bp.post("/discover/hide")  # discovery.sources.HIDE_PATH
    @host.login_required
    def hide_title():  # type: ignore[no-untyped-def]
        """Not interested: hidden for the current user at once (the call to Trakt is a
        job), then back to the page the button was on, which no longer lists it."""
        form = request.form
        back = _safe_next(form.get("next"), DISCOVER_FALLBACK)
        try:
            ids = form_ids(form)
            row = hide.hide(
                host.current_user().id, form.get("kind", ""), ids, form.get("title", "")
            )
        except ValueError as exc:
            _notice(FLASH_CARD, "error", MSG_HIDE_FAILED.format(reason=exc))
            return redirect(back)
        _notice(FLASH_CARD, "success", MSG_HIDDEN.format(title=row.title or "The title"))
        return redirect(back)

    return bp

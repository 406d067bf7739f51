"""The auth host: authorize pages, ``/oauth/token`` and ``/oauth/revoke`` (CONTRACT 4.1-4.5).

Client credentials are checked first, exactly as RFC 6749 and Trakt's new auth host do: an
unknown ``client_id`` or a wrong ``client_secret`` is 401 ``invalid_client`` before any
grant is looked at. Before that, in the default ``strict`` mode (behaviour ``oauth``),
the auth server takes the credentials in a JSON body only, as Trakt's does since
2026-08 (CONTRACT 4.2): ``Authorization: Basic`` is 401 ``invalid_client`` and a
form-encoded body 400 ``invalid_request`` [unverified statuses, checklist 3];
``lenient`` accepts forms and Basic (what Authlib sends by default). Codes are single-use and
bound to their exact ``redirect_uri``; PKCE accepts S256 only. Refresh tokens rotate and
are single-use; the access token they replace stays valid until its own expiry (Trakt
does not document revoking it). A refresh with a dead or unknown refresh token fails as
the behaviour ``refresh_error`` says: 400 ``invalid_grant`` JSON (default), 400 with an
empty body, or ``legacy-401`` (so does every ``invalid_grant`` with the configuration
``SANDBOX_LEGACY_OAUTH_ERRORS``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from harness.trakt_sandbox.app_policy import admit_app
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.protocol import JSON_TYPE, json_response
from harness.trakt_sandbox.state import ISSUED_SECRETS, App, Token, User

bp = Blueprint("oauth", __name__, template_folder="templates")
OOB = "urn:ietf:wg:oauth:2.0:oob"
SESSION_USER = "sandbox_user"
LEGACY_DESCRIPTION = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
BAD_REDIRECT_TEXT = "The requested redirect uri is malformed or doesn't match client redirect URI."
UNKNOWN_CLIENT_TEXT = (
    "Client authentication failed due to unknown client, no client "
    "authentication included, or unsupported authentication method."
)


class OAuthError(Exception):
    """An RFC 6749 error answer, raised from deep in a grant and rendered in one place."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def response(self, form: str = "json") -> Response:
        """``form``: ``json``, ``empty`` (the status, no body) or ``legacy-401``."""
        if self.error == "invalid_grant" and sandbox().config["SANDBOX_LEGACY_OAUTH_ERRORS"]:
            form = "legacy-401"
        if form == "empty":
            return Response(b"", self.status, content_type=JSON_TYPE)
        if form == "legacy-401" and self.error == "invalid_grant":
            # The Doorkeeper form Trakt answered with before its 2026 auth migration.
            header = (
                f'Bearer realm="Doorkeeper", error="invalid_grant", '
                f'error_description="{LEGACY_DESCRIPTION}"'
            )
            return json_response(
                {"error": "invalid_grant", "error_description": LEGACY_DESCRIPTION},
                401,
                {"WWW-Authenticate": header},
            )
        return json_response(
            {"error": self.error, "error_description": self.description}, self.status
        )


def invalid_grant(description: str = "session not found") -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


class TransportRefused(OAuthError):
    """The strict auth server's refusal of HTTP Basic or of a body that is not JSON."""


def refuse_non_json_clients() -> None:
    if sandbox().behaviour["oauth"] != "strict":
        return
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        raise TransportRefused(
            401,
            "invalid_client",
            "HTTP Basic client authentication is not supported: send "
            "client_id and client_secret in the JSON body",
        )
    if not request.is_json:
        raise TransportRefused(
            400,
            "invalid_request",
            "send the parameters as a JSON body (Content-Type: application/json)",
        )


def params() -> dict[str, Any]:
    """The call's parameters from a JSON body (or, when lenient, a form-encoded one)."""
    refuse_non_json_clients()
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise OAuthError(400, "invalid_request", "the body is not a JSON object")
        return data
    return request.form.to_dict()


def authenticate_client(data: dict[str, Any], *, secret_required: bool) -> tuple[App, bool]:
    """The calling app, and whether it proved itself with its secret."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, secret = auth.username, auth.password
    else:
        client_id, secret = data.get("client_id"), data.get("client_secret")
    if not client_id:
        raise OAuthError(401, "invalid_client", "client_id is required")
    app = sandbox().state.apps.get(str(client_id))
    if app is None:
        raise OAuthError(401, "invalid_client", UNKNOWN_CLIENT_TEXT)
    if secret:
        if not hmac.compare_digest(str(secret), app.client_secret):
            raise OAuthError(401, "invalid_client", "client authentication failed")
        return app, True
    if secret_required:
        raise OAuthError(401, "invalid_client", "client_secret is required")
    return app, False


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_answer(token: Token) -> Response:
    return json_response(token.as_json(), 200, {"Cache-Control": "no-store"})


# -- token endpoint ----------------------------------------------------------------------
@bp.post("/oauth/token")
def token_endpoint() -> Response:
    try:
        data = params()
        app, proved = authenticate_client(data, secret_required=False)
        grant = data.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "missing required parameter: grant_type")
        if grant == "authorization_code":
            return token_answer(_exchange_code(app, proved, data))
        if grant == "refresh_token":
            try:
                return token_answer(_refresh(app, proved, data))
            except OAuthError as exc:
                if exc.error != "invalid_grant":
                    raise
                return exc.response(sandbox().behaviour["refresh_error"])
        raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
    except OAuthError as exc:
        return exc.response()


def _exchange_code(app: App, proved: bool, data: dict[str, Any]) -> Token:
    state = sandbox().state
    if isinstance(data.get("code_verifier"), str):
        ISSUED_SECRETS.record("PKCE code verifier", data["code_verifier"])
    with state.lock:
        code = state.codes.get(str(data.get("code") or ""))
        if code is None or code.used or code.client_id != app.client_id:
            raise invalid_grant()
        if sandbox().clock.time() >= code.expires_at:
            raise invalid_grant("the authorization code has expired")
        if data.get("redirect_uri") != code.redirect_uri:
            raise invalid_grant("redirect_uri does not match the authorization request")
        if code.challenge is not None:
            verifier = data.get("code_verifier")
            if not isinstance(verifier, str) or not hmac.compare_digest(
                s256(verifier), code.challenge
            ):
                raise invalid_grant("code_verifier does not match the code_challenge")
        elif not proved:
            raise OAuthError(401, "invalid_client", "client_secret is required")
        code.used = True
        return state.issue_token(
            code.username, app.client_id, public=code.challenge is not None and not proved
        )


def _refresh(app: App, proved: bool, data: dict[str, Any]) -> Token:
    state = sandbox().state
    with state.lock:
        old = state.refresh_tokens.get(str(data.get("refresh_token") or ""))
        if old is None or old.refreshed or old.revoked or old.client_id != app.client_id:
            raise invalid_grant()
        if not old.public and not proved:
            raise OAuthError(401, "invalid_client", "client_secret is required")
        if state.user(old.username) is None:
            raise invalid_grant()
        old.refreshed = True
        return state.issue_token(old.username, app.client_id, public=old.public)


@bp.post("/oauth/revoke")
def revoke() -> Response:
    """Always 200 ``{}``, even for an unknown token (Trakt staff, CONTRACT 4.5); only the
    strict auth server's refusal of Basic or of a form comes first."""
    try:
        data = params()
    except TransportRefused as exc:
        return exc.response()
    except OAuthError:
        data = {}
    state = sandbox().state
    value = str(data.get("token") or "")
    with state.lock:
        token = state.tokens.get(value) or state.refresh_tokens.get(value)
        client_id = data.get("client_id") or (
            request.authorization.username if request.authorization else None
        )
        if token is not None and client_id in (None, token.client_id):
            token.revoked = True
    return json_response({}, 200)


# -- authorize pages ---------------------------------------------------------------------
def logged_in_user() -> User | None:
    username = session.get(SESSION_USER)
    return sandbox().state.user(username) if username else None


def login_page(next_url: str) -> str:
    users = sorted(sandbox().state.users.values(), key=lambda u: u.username)
    return render_template("sandbox_login.html", next_url=next_url, users=users)


def message_page(title: str, text: str, status: int) -> tuple[str, int]:
    return render_template("sandbox_message.html", title=title, text=text), status


def with_query(uri: str, values: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in values.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def _authorize_request(source: dict[str, Any]) -> tuple[App | None, Any]:
    """Validate the authorize parameters: (app, None) or (None, the answer to give)."""
    app = sandbox().state.apps.get(source.get("client_id", ""))
    if app is None:
        return None, message_page("Unknown client", UNKNOWN_CLIENT_TEXT, 400)
    redirect_uri = source.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return None, message_page("Invalid redirect URI", BAD_REDIRECT_TEXT, 400)
    state_value = source.get("state")
    if source.get("response_type") != "code":
        return None, _redirect_error(redirect_uri, "unsupported_response_type", state_value)
    challenge, method = source.get("code_challenge"), source.get("code_challenge_method")
    if (challenge or method) and (not challenge or method != "S256"):
        return None, _redirect_error(
            redirect_uri,
            "invalid_request",
            state_value,
            "PKCE needs a code_challenge with method S256",
        )
    return app, None


def _redirect_error(
    redirect_uri: str, error: str, state_value: str | None, description: str | None = None
) -> Any:
    if redirect_uri == OOB:
        return message_page("Authorization failed", error, 400)
    return redirect(
        with_query(
            redirect_uri, {"error": error, "error_description": description, "state": state_value}
        )
    )


@bp.get("/oauth/authorize")
def authorize() -> Any:
    source = request.args.to_dict()
    app, answer = _authorize_request(source)
    if app is None:
        return answer
    user = logged_in_user()
    if user is None or source.get("prompt") == "login":
        next_url = request.full_path
        if source.get("prompt") == "login":
            next_url = with_query(request.path, {k: v for k, v in source.items() if k != "prompt"})
        return login_page(next_url)
    return render_template("sandbox_consent.html", app=app, user=user, params=source)


@bp.post("/oauth/authorize")
def decide() -> Any:
    source = request.form.to_dict()
    decision = source.pop("decision", "deny")
    app, answer = _authorize_request(source)
    if app is None:
        return answer
    user = logged_in_user()
    if user is None:
        return login_page(with_query(url_for("oauth.authorize"), source))
    redirect_uri, state_value = source["redirect_uri"], source.get("state")
    if decision != "approve":
        return _redirect_error(redirect_uri, "access_denied", state_value)
    refusal = admit_app(sandbox(), user.username, app.client_id)
    if refusal:
        return _redirect_error(redirect_uri, "access_denied", state_value, refusal)
    code = sandbox().state.new_code(
        app.client_id, redirect_uri, user.username, source.get("code_challenge") or None
    )
    if redirect_uri == OOB:
        return render_template("sandbox_oob.html", code=code.code, app=app)
    return redirect(with_query(redirect_uri, {"code": code.code, "state": state_value}))


@bp.post("/oauth/login")
def login() -> Any:
    """Sign in as a sandbox user by name; an unknown name creates the user."""
    username = request.form.get("username", "").strip()
    next_url = request.form.get("next", "/")
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = "/"
    if not username:
        return login_page(next_url), 400
    sandbox().state.ensure_user(username)
    session[SESSION_USER] = username.lower()
    return redirect(next_url)


@bp.post("/oauth/logout")
def logout() -> Any:
    session.pop(SESSION_USER, None)
    return redirect(request.form.get("next", "/oauth/authorize"))

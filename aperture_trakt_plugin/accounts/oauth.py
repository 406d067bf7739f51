"""Talking OAuth with Trakt: authorization code with PKCE (via Authlib), refresh, revoke,
and the device flow.

Trakt documents JSON bodies with the client credentials inside them for every
``/oauth/*`` call, and its auth server refuses HTTP Basic client authentication
(CONTRACT 4.2), while Authlib sends form-encoded bodies with Basic by default;
:class:`JSONClientAuth` rewrites Authlib's prepared request into Trakt's documented form,
so Authlib still builds the grant (PKCE, state, parameters) and parses the answer. It
also reads the answers Authlib would misread: Cloudflare's HTML 403, a 429, and the empty
400 with which Trakt refuses a dead grant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.trakt.client import (
    InvalidClient,
    InvalidGrant,
    TraktClient,
    TraktError,
    TraktServerError,
    TraktUnreachable,
    error_for,
    firewall_error,
    json_or_none,
    redirect_error,
)

# What connecting, refreshing and the device flow say to a person (docs/troubleshooting.md
# lists each with its cause and fix). ``{what}`` is the step that failed.
MSG_NOT_CONFIGURED = (
    "Trakt is not set up on this server yet: an admin must enter the "
    "Trakt app's credentials under Settings → Integrations"
)
MSG_NO_ACCESS_TOKEN = "Trakt's token answer had no access token"
MSG_TOKEN_TYPE = "Trakt issued an unexpected token type {token_type!r}"
MSG_NO_EXPIRY = "Trakt's token answer had no usable expiry"
MSG_TOKEN_FIELDS = "Trakt's token answer had a refresh token or scope that is not text"
MSG_UNREADABLE = (
    "{what}: Trakt's answer could not be read (JSON too deep, or a number too "
    "long); nothing was stored"
)
MSG_GRANT_REFUSED = (
    "{what}: Trakt no longer accepts this authorization (invalid_grant); connect again"
)
MSG_CLIENT_REFUSED = (
    "{what}: Trakt rejected this server's app credentials (invalid_client); "
    "an admin must check them"
)
MSG_GRANT_GONE_400 = (
    "{what}: Trakt answered 400 without a reason, as it does for an "
    "authorization it no longer accepts; connect again"
)
MSG_REFUSED = "{what}: Trakt refused ({error})"
MSG_NO_ANSWER = "{what}: Trakt did not answer in time"
MSG_ERROR_PAGE_STATUS = (
    "{what}: Trakt answered with an error page ({status}); try again in a few minutes"
)
MSG_NOT_REACHED = "{what}: could not reach Trakt ({reason})"
MSG_ERROR_PAGE = "{what}: Trakt answered with an error page; try again in a few minutes"
MSG_DEVICE_CODE_INCOMPLETE = "Trakt's device-code answer was incomplete"
MSG_DEVICE_URL_UNTRUSTED = (
    "Trakt's answer named a page for entering the code that is not "
    "on Trakt, so no link is shown. Type https://trakt.tv/activate "
    "into your browser yourself and enter this code:"
)
MSG_DEVICE_INVALID = "Trakt does not know this code any more. Start connecting again."
MSG_DEVICE_USED = "This code was already used. Start connecting again if you are not connected."
MSG_DEVICE_EXPIRED = "The code expired before it was entered on Trakt. Start connecting again."
MSG_DEVICE_DENIED = "Access was denied on Trakt; nothing was connected."
MSG_DEVICE_WAITING = "Waiting for you to enter the code on Trakt…"
MSG_DEVICE_NOT_REACHED = "Checking the device code: could not reach Trakt ({reason})"
MSG_DEVICE_NOT_JSON = "Trakt's device-token answer was not JSON"
MSG_DEVICE_CLIENT_REFUSED = (
    "Checking the device code: Trakt rejected this server's app "
    "credentials; an admin must check them"
)
MSG_DEVICE_STATUS = "Checking the device code: Trakt answered {status}"


class NotConfigured(TraktError):
    """No Trakt app credentials yet: an admin must set them first."""


@dataclass(frozen=True)
class AppCredentials:
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str | None
    created_at: datetime
    expires_at: datetime
    scope: str | None

    @classmethod
    def from_response(cls, data: Any) -> TokenPair:
        """Expiry is ``created_at + expires_in`` as Trakt says; lifetimes have changed twice.

        Every field is checked for its type and a sane range before anything is stored:
        a token that is a dict, or an expiry in the year 10^12, would otherwise fail in
        the database or in ``datetime`` as a 500, well after Trakt spent the grant."""
        if not isinstance(data, dict) or not _text(data.get("access_token")):
            raise TraktServerError(MSG_NO_ACCESS_TOKEN)
        token_type = data.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TraktServerError(MSG_TOKEN_TYPE.format(token_type=str(token_type)[:40]))
        if not all(
            data.get(name) is None or _text(data[name]) for name in ("refresh_token", "scope")
        ):
            raise TraktServerError(MSG_TOKEN_FIELDS)
        created_at, expires_in = data.get("created_at") or 0, data.get("expires_in")
        if not (_whole(created_at, 0, MOST_SECONDS) and _whole(expires_in, 1, MOST_LIFETIME)):
            raise TraktServerError(MSG_NO_EXPIRY)
        created = datetime.fromtimestamp(created_at, UTC)
        if created.year < 2000:  # absent or zero: count from now rather than from 1970
            created = datetime.now(UTC)
        return cls(
            data["access_token"],
            data.get("refresh_token"),
            created,
            created + timedelta(seconds=expires_in),
            data.get("scope"),
        )


#: Bounds of a token answer's fields: a timestamp before the year 3000, a lifetime of at
#: most ten years (Trakt's have been 90 days and 24 hours), a token of at most 4 KiB.
MOST_SECONDS = 32_503_680_000
MOST_LIFETIME = 10 * 365 * 86400
MOST_TOKEN_CHARS = 4096


def _text(value: Any) -> bool:
    """A non-empty string of a sane length (what a token, code or scope is)."""
    return isinstance(value, str) and 0 < len(value) <= MOST_TOKEN_CHARS


def _whole(value: Any, low: int, high: int) -> bool:
    """An integer (not a bool, not a float) in [low, high]."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def token_answer_error(response: requests.Response, what: str) -> TraktError | None:
    """The error in a token-endpoint answer that Authlib would misread, or None.

    Authlib wants a JSON error object; without one it raises a bare HTTP or JSON error,
    which reads as Trakt being down and has the job retry for ever. So, first:

    * Cloudflare's HTML 403 is its firewall, not ``invalid_client`` (CONTRACT 10);
    * a redirect is refused before Authlib's session could follow it with the secrets;
    * a 429, Trakt's or Cloudflare's HTML one, is a rate limit with its ``Retry-After``;
    * a 400 whose body is empty or not a JSON object is a dead grant: Trakt has answered
      refreshes of pre-migration grants so (trakt/trakt-api#888, CONTRACT 4.4), and a
      retry cannot revive it; the user must connect again.
    """
    blocked = firewall_error(response, what) or redirect_error(response, what)
    if blocked is not None:
        return blocked
    if response.status_code == 429:
        return error_for(response, what, extension.endpoints().wait_range)
    if response.status_code == 400 and not isinstance(json_or_none(response), dict):
        return InvalidGrant(
            MSG_GRANT_GONE_400.format(what=what), status=400, headers=response.headers
        )
    return None


class JSONClientAuth(requests.auth.AuthBase):
    """Turns Authlib's token request into Trakt's: a JSON body with the credentials in it,
    never a form body nor HTTP Basic; and raises :func:`token_answer_error`'s error for an
    answer Authlib would misread (a response hook, so it sees the answer before Authlib)."""

    def __init__(self, credentials: AppCredentials, what: str) -> None:
        self.credentials = credentials
        self.what = what

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        params = dict(parse_qsl(body, keep_blank_values=True))
        params["client_id"] = self.credentials.client_id
        params["client_secret"] = self.credentials.client_secret
        request.body = json.dumps(params).encode()
        request.headers.pop("Authorization", None)  # the credentials are in the body
        request.headers["Content-Type"] = "application/json"
        request.headers["Accept"] = "application/json"
        request.prepare_content_length(request.body)
        request.register_hook("response", self._check_answer)
        return request

    def _check_answer(self, response: requests.Response, **_: Any) -> requests.Response:
        error = token_answer_error(response, self.what)
        if error is not None:
            raise error
        return response


def app_credentials() -> AppCredentials:
    values = extension.state().settings.values()
    if not values["client_id"] or not values["client_secret"]:
        raise NotConfigured(MSG_NOT_CONFIGURED)
    return AppCredentials(
        values["client_id"], values["client_secret"], extension.effective_redirect_uri()
    )


def _session(credentials: AppCredentials) -> OAuth2Session:
    endpoints = extension.endpoints()
    session = OAuth2Session(
        credentials.client_id,
        credentials.client_secret,
        redirect_uri=credentials.redirect_uri,
        code_challenge_method="S256",
        default_timeout=endpoints.timeout,
    )
    session.headers["User-Agent"] = endpoints.user_agent
    return extension.http_session(session)


def api_client() -> TraktClient:
    """The configured app's client for the API and auth hosts."""
    return TraktClient(
        app_credentials().client_id,
        extension.endpoints(),
        extension.http_session(),
        extension.budgets(),
    )


def _token_url() -> str:
    return extension.endpoints().auth_url + "/oauth/token"


def _token_call(what: str, call: Any) -> TokenPair:
    """Runs an Authlib token request and maps its failures to our errors (those
    :class:`JSONClientAuth` raised from the answer are ours already)."""
    try:
        return TokenPair.from_response(call())
    except TraktError:
        raise
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            raise InvalidGrant(MSG_GRANT_REFUSED.format(what=what)) from None
        if exc.error == "invalid_client":
            raise InvalidClient(MSG_CLIENT_REFUSED.format(what=what)) from None
        raise TraktError(MSG_REFUSED.format(what=what, error=exc.error)) from None
    except requests.Timeout:
        raise TraktUnreachable(MSG_NO_ANSWER.format(what=what)) from None
    except requests.HTTPError as exc:  # Authlib's answer to a 5xx or a non-JSON error page
        status = exc.response.status_code if exc.response is not None else "no status"
        raise TraktServerError(MSG_ERROR_PAGE_STATUS.format(what=what, status=status)) from None
    except requests.RequestException as exc:
        raise TraktUnreachable(
            MSG_NOT_REACHED.format(what=what, reason=type(exc).__name__)
        ) from None
    except ValueError:  # not JSON: an HTML error page from Trakt or its edge
        raise TraktServerError(MSG_ERROR_PAGE.format(what=what)) from None
    except RecursionError:  # JSON nested beyond Python's stack, read inside Authlib
        raise TraktServerError(MSG_UNREADABLE.format(what=what)) from None


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str


def authorization_request() -> AuthorizationRequest:
    credentials = app_credentials()
    verifier = generate_token(64)
    url, state = _session(credentials).create_authorization_url(
        extension.endpoints().auth_url + "/oauth/authorize",
        code_verifier=verifier,
        state=generate_token(32),
    )
    return AuthorizationRequest(url, state, verifier)


def exchange_code(code: str, code_verifier: str) -> TokenPair:
    credentials = app_credentials()
    session = _session(credentials)
    what = "Connecting to Trakt"
    return _token_call(
        what,
        lambda: session.fetch_token(
            _token_url(),
            grant_type="authorization_code",
            code=code,
            code_verifier=code_verifier,
            redirect_uri=credentials.redirect_uri,
            auth=JSONClientAuth(credentials, what),
        ),
    )


def refresh(refresh_token: str) -> TokenPair:
    credentials = app_credentials()
    session = _session(credentials)
    what = "Refreshing the Trakt token"
    return _token_call(
        what,
        lambda: session.refresh_token(
            _token_url(),
            refresh_token=refresh_token,
            redirect_uri=credentials.redirect_uri,
            auth=JSONClientAuth(credentials, what),
        ),
    )


def revoke(access_token: str) -> None:
    """Trakt answers 200 even for a dead token, so any error here is Trakt's or the network's."""
    credentials = app_credentials()
    api_client().oauth(
        "/oauth/revoke",
        {
            "token": access_token,
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        },
        what="Revoking the Trakt token",
    )


# --- device flow ---------------------------------------------------------------------------


#: Where Trakt sends people to enter a device code (its answer says
#: ``https://trakt.tv/activate``); the configured auth host is trusted as well.
TRAKT_ACTIVATION_HOSTS = frozenset({"trakt.tv", "www.trakt.tv", "auth.trakt.tv", "api.trakt.tv"})
USER_CODE_MAX = 32  # the column's size; Trakt's codes have 8 characters


@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    #: "" when Trakt's answer named a page that is not Trakt's: shown without a link.
    verification_url: str
    expires_in: int
    interval: int


def trusted_verification_url(url: object) -> str:
    """``url`` if it is a page on Trakt people may be sent to, else "". Anything else
    (``javascript:``, a look-alike host, ``http`` where the auth host is https, user info
    to disguise the host) came from a compromised path, and a link would send the
    person, their code in hand, wherever it points."""
    if not isinstance(url, str) or len(url) > 512 or not url.isprintable() or " " in url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return ""
    if parts.username is not None or parts.password is not None or not host:
        return ""
    auth = urlsplit(extension.endpoints().auth_url)
    if (parts.scheme, parts.netloc.lower()) == (auth.scheme, auth.netloc.lower()):
        return url
    if parts.scheme == "https" and host in TRAKT_ACTIVATION_HOSTS and parts.port in (None, 443):
        return url
    return ""


def start_device_flow() -> DeviceCode:
    credentials = app_credentials()
    data = api_client().oauth(
        "/oauth/device/code",
        {"client_id": credentials.client_id},
        what="Starting the device connection",
    )
    fields = data if isinstance(data, dict) else {}
    device_code, user_code, url = (
        fields.get(name) for name in ("device_code", "user_code", "verification_url")
    )
    numbers = [fields.get(name) for name in ("expires_in", "interval")]
    # A verification URL that is not Trakt's (or not text) is shown without a link.
    if not (
        _text(device_code)
        and _text(user_code)
        and all(_whole(value, 1, DEVICE_MOST_SECONDS) for value in numbers)
        and user_code.isalnum()
        and len(user_code) <= USER_CODE_MAX
    ):
        raise TraktServerError(MSG_DEVICE_CODE_INCOMPLETE)
    return DeviceCode(device_code, user_code, trusted_verification_url(url), *numbers)


#: A device code's lifetime and poll interval are minutes (600 s and 5 s at Trakt); a
#: day at most, so a hostile interval cannot park the flow for years.
DEVICE_MOST_SECONDS = 86400


#: What a device-token poll can say, with what the caller should do (CONTRACT 4.6).
DEVICE_PENDING, DEVICE_SLOW_DOWN = "pending", "slow_down"
DEVICE_DONE = "done"
DEVICE_FINAL = {
    404: ("invalid", MSG_DEVICE_INVALID),
    409: ("used", MSG_DEVICE_USED),
    410: ("expired", MSG_DEVICE_EXPIRED),
    418: ("denied", MSG_DEVICE_DENIED),
}


@dataclass(frozen=True)
class DevicePoll:
    status: str
    message: str = ""
    tokens: TokenPair | None = None


def poll_device_token(device_code: str) -> DevicePoll:
    credentials = app_credentials()
    endpoints = extension.endpoints()
    try:
        response = extension.http_session().post(
            endpoints.auth_url + "/oauth/device/token",
            timeout=endpoints.timeout,
            allow_redirects=False,
            json={
                "code": device_code,
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
            },
            headers={"User-Agent": endpoints.user_agent},
        )
    except requests.RequestException as exc:
        raise TraktUnreachable(MSG_DEVICE_NOT_REACHED.format(reason=type(exc).__name__)) from None
    blocked = firewall_error(response, "Checking the device code") or redirect_error(
        response, "Checking the device code"
    )
    if blocked is not None:  # before the statuses: a firewall 403 is not a final answer
        raise blocked
    if response.status_code == 200:
        data = json_or_none(response)
        if data is None:
            raise TraktServerError(MSG_DEVICE_NOT_JSON)
        return DevicePoll(DEVICE_DONE, tokens=TokenPair.from_response(data))
    if response.status_code == 400:
        return DevicePoll(DEVICE_PENDING, MSG_DEVICE_WAITING)
    if response.status_code == 429:
        return DevicePoll(DEVICE_SLOW_DOWN, MSG_DEVICE_WAITING)
    if response.status_code in DEVICE_FINAL:
        status, message = DEVICE_FINAL[response.status_code]
        return DevicePoll(status, message)
    if response.status_code == 401:
        raise InvalidClient(MSG_DEVICE_CLIENT_REFUSED)
    raise TraktServerError(MSG_DEVICE_STATUS.format(status=response.status_code))

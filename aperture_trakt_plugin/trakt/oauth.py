"""OAuth with one Trakt app: the authorization code with PKCE (via Authlib), refresh and
revoke, given the app's credentials, the endpoints and the session to talk over.

Trakt documents JSON bodies with the client credentials inside them for every
``/oauth/*`` call, and its auth server refuses HTTP Basic client authentication
(CONTRACT 4.2), while Authlib sends form-encoded bodies with Basic by default;
:class:`JSONClientAuth` rewrites Authlib's prepared request into Trakt's documented form,
so Authlib still builds the grant (PKCE, state, parameters) and parses the answer. It
also reads the answers Authlib would misread: Cloudflare's HTML 403, a 429, and the empty
400 with which Trakt refuses a dead grant. Where the credentials come from is the
caller's business (``accounts.oauth``: the server's stored settings).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import parse_qsl

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from aperture_trakt_plugin.trakt.answers import (
    error_for,
    firewall_error,
    json_or_none,
    redirect_error,
)
from aperture_trakt_plugin.trakt.client import TraktClient
from aperture_trakt_plugin.trakt.endpoints import TraktEndpoints
from aperture_trakt_plugin.trakt.errors import (
    InvalidClient,
    InvalidGrant,
    TraktError,
    TraktServerError,
    TraktUnreachable,
)
from aperture_trakt_plugin.trakt.rate_limits import DEFAULT_WAIT_RANGE
from aperture_trakt_plugin.trakt.transport import borrow_transport

# What connecting and refreshing say to a person (docs/troubleshooting.md lists each
# with its cause and fix). ``{what}`` is the step that failed.
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
        if not isinstance(data, dict) or not is_text(data.get("access_token")):
            raise TraktServerError(MSG_NO_ACCESS_TOKEN)
        token_type = data.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise TraktServerError(MSG_TOKEN_TYPE.format(token_type=str(token_type)[:40]))
        if not all(
            data.get(name) is None or is_text(data[name]) for name in ("refresh_token", "scope")
        ):
            raise TraktServerError(MSG_TOKEN_FIELDS)
        created_at, expires_in = data.get("created_at") or 0, data.get("expires_in")
        if not (is_whole(created_at, 0, MOST_SECONDS) and is_whole(expires_in, 1, MOST_LIFETIME)):
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


def is_text(value: Any) -> TypeGuard[str]:
    """A non-empty string of a sane length (what a token, code or scope is)."""
    return isinstance(value, str) and 0 < len(value) <= MOST_TOKEN_CHARS


def is_whole(value: Any, low: int, high: int) -> TypeGuard[int]:
    """An integer (not a bool, not a float) in [low, high]."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def token_answer_error(
    response: requests.Response, what: str, wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE
) -> TraktError | None:
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
        return error_for(response, what, wait_range)
    if response.status_code == 400 and not isinstance(json_or_none(response), dict):
        return InvalidGrant(
            MSG_GRANT_GONE_400.format(what=what), status=400, headers=response.headers
        )
    return None


class JSONClientAuth(requests.auth.AuthBase):
    """Turns Authlib's token request into Trakt's: a JSON body with the credentials in it,
    never a form body nor HTTP Basic; and raises :func:`token_answer_error`'s error for an
    answer Authlib would misread (a response hook, so it sees the answer before Authlib)."""

    def __init__(
        self,
        credentials: AppCredentials,
        what: str,
        wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE,
    ) -> None:
        self.credentials = credentials
        self.what = what
        self.wait_range = wait_range

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
        # types-requests leaves register_hook unannotated.
        request.register_hook("response", self._check_answer)  # type: ignore[no-untyped-call]
        return request

    def _check_answer(self, response: requests.Response, **_: Any) -> requests.Response:
        error = token_answer_error(response, self.what, self.wait_range)
        if error is not None:
            raise error
        return response


def token_call(what: str, call: Callable[[], Any]) -> TokenPair:
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


class TraktOAuth:
    """One app's OAuth calls. ``session`` is what every call goes over (its size caps,
    deadline and refusal of redirects included); Authlib's own sessions borrow its
    transport, since Authlib builds the token requests."""

    def __init__(
        self, credentials: AppCredentials, endpoints: TraktEndpoints, session: requests.Session
    ) -> None:
        self.credentials = credentials
        self.endpoints = endpoints
        self.session = session
        #: For the auth host's plain JSON calls (revoke, the device flow): no budget, as
        #: Trakt counts only the API host's calls.
        self.client = TraktClient(credentials.client_id, endpoints, session)

    @property
    def token_url(self) -> str:
        return self.endpoints.auth_url + "/oauth/token"

    def authlib_session(self) -> OAuth2Session:
        credentials = self.credentials
        session = OAuth2Session(
            credentials.client_id,
            credentials.client_secret,
            redirect_uri=credentials.redirect_uri,
            code_challenge_method="S256",
            default_timeout=self.endpoints.timeout,
        )
        session.headers["User-Agent"] = self.endpoints.user_agent
        return borrow_transport(session, self.session)

    def client_auth(self, what: str) -> JSONClientAuth:
        return JSONClientAuth(self.credentials, what, self.endpoints.wait_range)

    def authorization_request(self) -> AuthorizationRequest:
        verifier = generate_token(64)
        url, state = self.authlib_session().create_authorization_url(
            self.endpoints.auth_url + "/oauth/authorize",
            code_verifier=verifier,
            state=generate_token(32),
        )
        return AuthorizationRequest(url, state, verifier)

    def exchange_code(self, code: str, code_verifier: str) -> TokenPair:
        session = self.authlib_session()
        what = "Connecting to Trakt"
        return token_call(
            what,
            lambda: session.fetch_token(
                self.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=self.credentials.redirect_uri,
                auth=self.client_auth(what),
            ),
        )

    def refresh(self, refresh_token: str) -> TokenPair:
        session = self.authlib_session()
        what = "Refreshing the Trakt token"
        return token_call(
            what,
            lambda: session.refresh_token(
                self.token_url,
                refresh_token=refresh_token,
                redirect_uri=self.credentials.redirect_uri,
                auth=self.client_auth(what),
            ),
        )

    def revoke(self, access_token: str) -> None:
        """Trakt answers 200 even for a dead token, so any error here is Trakt's or the
        network's."""
        self.client.oauth(
            "/oauth/revoke",
            {
                "token": access_token,
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
            },
            what="Revoking the Trakt token",
        )

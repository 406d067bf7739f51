"""Checks an admin's Client ID and Client Secret against Trakt before storing them.

Trakt has no "whoami" for apps, so the check uses two cheap calls that tell the two
mistakes apart:

1. an unauthenticated ``GET /movies/trending?limit=1`` with the Client ID as
   ``trakt-api-key``: an unknown or removed app gets 403;
2. a token exchange with a deliberately invalid code: the auth server authenticates
   the client before it looks at the code (RFC 6749 section 5.2), so a wrong secret
   gets ``invalid_client`` and a right one gets ``invalid_grant`` for the code.

Both are unauthenticated and cost nothing of any user's rate limit. Cloudflare's firewall
can answer either with its own HTML 403 before Trakt sees the request: that is no verdict
on the credentials, so the check then says it could not check, as when Trakt is down.
"""

from __future__ import annotations

from dataclasses import dataclass

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from aperture_trakt_plugin.trakt.client import TraktClient
from aperture_trakt_plugin.trakt.endpoints import TraktEndpoints
from aperture_trakt_plugin.trakt.errors import (
    FirewallBlocked,
    InvalidClient,
    InvalidGrant,
    TraktError,
    TraktServerError,
    TraktUnreachable,
)

PROBE_CODE = "aperture-trakt-credential-check"

MSG_UNKNOWN_CLIENT_ID = (
    "Invalid credentials: Trakt does not recognise this Client ID. "
    "Copy it again from your app's page at https://developer.trakt.tv; "
    "if the app is gone there, Trakt deleted it (its owner's VIP lapsed, "
    "or nobody had connected to it) and a new one is needed."
)
MSG_REJECTED_SECRET = (
    "Invalid credentials: Trakt rejected the Client Secret for this "
    "Client ID. Copy the secret again from the same app's page."
)
MSG_UNREACHABLE = "Could not check the credentials: Trakt could not be reached ({reason})."
MSG_UNEXPECTED = "Could not check the credentials: Trakt answered unexpectedly ({reason})."
MSG_FIREWALL = (
    "Could not check the credentials: Trakt's firewall (Cloudflare) blocked the "
    "check{ray}, so Trakt never saw them."
)
#: Added when an unchecked pair was not stored (not when an admin saved it anyway).
MSG_NOT_SAVED = " Nothing was saved; try again later, or tick \u201cSave anyway\u201d."
MSG_ACCEPTED = "Trakt accepted the Client ID and Client Secret."
MSG_SAVED = "Saved. {result}"
MSG_SAVED_UNCHECKED = "Saved without a successful check, as asked. {result}"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    reachable: bool = True


def _not_checked(exc: TraktError) -> CheckResult:
    """Trakt did not give a verdict: down, unreachable, blocked by its firewall, or
    answering something else."""
    if isinstance(exc, FirewallBlocked):
        return CheckResult(False, MSG_FIREWALL.format(ray=exc.ray), reachable=False)
    template = (
        MSG_UNREACHABLE if isinstance(exc, TraktUnreachable | TraktServerError) else MSG_UNEXPECTED
    )
    return CheckResult(False, template.format(reason=exc), reachable=False)


def check_credentials(
    client_id: str, client_secret: str, redirect_uri: str, endpoints: TraktEndpoints
) -> CheckResult:
    client = TraktClient(client_id, endpoints, extension.http_session())
    try:
        client.api("GET", "/movies/trending", params={"limit": 1}, what="Checking the Client ID")
    except InvalidClient:
        return CheckResult(False, MSG_UNKNOWN_CLIENT_ID)
    except TraktError as exc:
        return _not_checked(exc)
    try:
        client.oauth(
            "/oauth/token",
            {
                "code": PROBE_CODE,
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
                "grant_type": "authorization_code",
            },
            what="Checking the Client Secret",
        )
    except InvalidGrant:
        return CheckResult(True, MSG_ACCEPTED)
    except InvalidClient:
        return CheckResult(False, MSG_REJECTED_SECRET)
    except TraktError as exc:
        return _not_checked(exc)
    # A made-up code was accepted: the auth server is not Trakt as we know it.
    return CheckResult(
        False, MSG_UNEXPECTED.format(reason="a test code was accepted"), reachable=False
    )


@dataclass(frozen=True)
class SaveOutcome:
    saved: bool
    message: str
    checked: bool


MSG_MISSING = "Enter both the Client ID and the Client Secret of your Trakt app."


def save_app_credentials(
    client_id: str | None,
    client_secret: str | None,
    redirect_uri: str | None,
    user_id: int | None,
    force: bool = False,
) -> SaveOutcome:
    """The one save path of the form and the CLI: merge, check, then store (or not).

    Nothing is stored until Trakt accepts the pair, unless an admin says "save anyway",
    which is for a Trakt that is down or unreachable from this server right now.
    """
    store = extension.state().settings
    values = store.merge_submission(client_id, client_secret, redirect_uri)
    if not values["client_id"] or not values["client_secret"]:
        return SaveOutcome(False, MSG_MISSING, checked=False)
    redirect = values["redirect_uri"] or extension.default_redirect_uri() or OOB_REDIRECT_URI
    result = check_credentials(
        values["client_id"], values["client_secret"], redirect, extension.endpoints()
    )
    if not result.ok and not force:
        return SaveOutcome(
            False, result.message + ("" if result.reachable else MSG_NOT_SAVED), checked=True
        )
    store.save(values, user_id)
    if result.ok:
        return SaveOutcome(True, MSG_SAVED.format(result=result.message), checked=True)
    return SaveOutcome(True, MSG_SAVED_UNCHECKED.format(result=result.message), checked=True)

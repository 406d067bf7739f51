"""Trakt's OAuth and device flow with this server's app: the credentials an admin stored,
the configured endpoints, and the extension's bounded session, bound to the calls of
``trakt.oauth`` and ``trakt.device_flow``, which know nothing of where those come from."""

from __future__ import annotations

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.trakt import device_flow
from aperture_trakt_plugin.trakt.client import TraktClient
from aperture_trakt_plugin.trakt.device_flow import DeviceCode, DevicePoll
from aperture_trakt_plugin.trakt.errors import TraktError
from aperture_trakt_plugin.trakt.oauth import (
    AppCredentials,
    AuthorizationRequest,
    TokenPair,
    TraktOAuth,
)

MSG_NOT_CONFIGURED = (
    "Trakt is not set up on this server yet: an admin must enter the "
    "Trakt app's credentials under Admin → Settings → Setup → Integrations"
)


class NotConfigured(TraktError):
    """No Trakt app credentials yet: an admin must set them first."""


def app_credentials() -> AppCredentials:
    values = extension.state().settings.values()
    if not values["client_id"] or not values["client_secret"]:
        raise NotConfigured(MSG_NOT_CONFIGURED)
    return AppCredentials(
        values["client_id"], values["client_secret"], extension.effective_redirect_uri()
    )


def app_oauth() -> TraktOAuth:
    """The server's app, over a session with its transport (caps, no redirects)."""
    return TraktOAuth(app_credentials(), extension.endpoints(), extension.http_session())


def api_client() -> TraktClient:
    """The configured app's client for the API and auth hosts."""
    return TraktClient(
        app_credentials().client_id,
        extension.endpoints(),
        extension.http_session(),
        extension.budgets(),
    )


def authorization_request() -> AuthorizationRequest:
    return app_oauth().authorization_request()


def exchange_code(code: str, code_verifier: str) -> TokenPair:
    return app_oauth().exchange_code(code, code_verifier)


def refresh(refresh_token: str) -> TokenPair:
    return app_oauth().refresh(refresh_token)


def revoke(access_token: str) -> None:
    app_oauth().revoke(access_token)


def start_device_flow() -> DeviceCode:
    return device_flow.start(app_oauth())


def poll_device_token(device_code: str) -> DevicePoll:
    return device_flow.poll(app_oauth(), device_code)


def trusted_verification_url(url: object) -> str:
    """``device_flow.trusted_verification_url`` against this server's auth host."""
    return device_flow.trusted_verification_url(url, extension.endpoints().auth_url)

"""The OAuth callback URI is never taken from the request's Host header (issue 15).

Without a configured public URL (``APERTURE_TRAKT_PUBLIC_URL`` or the host's own, the
reference host's ``PUBLIC_BASE_URL``), the reference host answers ``public_base_url``
with the request's host, which whoever sends the request chooses: a forged ``Host``
made the admin card show, and the connect redirect carry, a callback on the forger's
host. Now the plugin falls back to the device flow and the card says to set the URL.
"""

from __future__ import annotations

import html as htmllib
from urllib.parse import parse_qs, urlsplit

import pytest

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from aperture_trakt_plugin.web.texts import MSG_SET_PUBLIC_URL
from tests.connect_helpers import (
    CONNECT,
    PROFILE,
    card_state,
    configure_trakt,
    text_of,
)
from tests.fixtures_host import csrf_token_from

pytestmark = [pytest.mark.trakt]

ADMIN_PAGE = "/admin/settings/integrations"
FORGED = "http://evil.example/"


def unescaped(response) -> str:
    assert response.status_code == 200, response.status_code
    return htmllib.unescape(response.get_data(as_text=True))


def login_at(client, username: str) -> None:
    """Logs in through the forged host, so the session cookie is sent there."""
    token = csrf_token_from(client.get("/login", base_url=FORGED).get_data(as_text=True))
    response = client.post(
        "/login", base_url=FORGED, data={"csrf_token": token, "username": username}
    )
    assert response.status_code == 302


def redirect_uri_of(response) -> str:
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"][0]


@pytest.mark.parametrize("host_config", [{"PUBLIC_BASE_URL": None}], indirect=True)
def test_without_a_public_url_a_forged_host_never_becomes_the_callback(
    host_app, host_client, sandbox
):
    configure_trakt(host_app, sandbox)
    login_at(host_client, "admin")
    html = unescaped(host_client.get(ADMIN_PAGE, base_url=FORGED))
    assert "evil.example" not in html
    assert text_of(html, "trakt-redirect-uri") == OOB_REDIRECT_URI
    assert text_of(html, "trakt-public-url-missing") == MSG_SET_PUBLIC_URL
    login_at(host_client, "alice")
    profile = unescaped(host_client.get(PROFILE, base_url=FORGED))
    assert card_state(profile) == "disconnected" and 'id="trakt-connect"' not in profile
    assert 'id="trakt-connect-device"' in profile
    assert redirect_uri_of(host_client.get(CONNECT, base_url=FORGED)) == OOB_REDIRECT_URI
    with host_app.test_request_context("/", base_url=FORGED):
        assert extension.default_redirect_uri() is None
    with host_app.app_context():  # the command line agrees with the pages
        assert extension.effective_redirect_uri() == OOB_REDIRECT_URI


def test_a_configured_host_url_wins_over_a_forged_host(host_app, host_client, sandbox):
    configure_trakt(host_app, sandbox)  # PUBLIC_BASE_URL is http://host.test
    login_at(host_client, "admin")
    html = unescaped(host_client.get(ADMIN_PAGE, base_url=FORGED))
    assert text_of(html, "trakt-redirect-uri") == "http://host.test/plugins/trakt/callback"
    assert text_of(html, "trakt-public-url-missing") is None
    login_at(host_client, "alice")
    assert (
        redirect_uri_of(host_client.get(CONNECT, base_url=FORGED))
        == "http://host.test/plugins/trakt/callback"
    )


@pytest.mark.parametrize(
    "host_config",
    [{"PUBLIC_BASE_URL": None, "APERTURE_TRAKT_PUBLIC_URL": "https://media.test/"}],
    indirect=True,
)
def test_the_plugins_own_public_url_is_used(host_app, host_client):
    login_at(host_client, "admin")
    html = unescaped(host_client.get(ADMIN_PAGE, base_url=FORGED))
    assert text_of(html, "trakt-redirect-uri") == "https://media.test/plugins/trakt/callback"
    assert "evil.example" not in html

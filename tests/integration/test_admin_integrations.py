"""Admin → Settings → Setup → Integrations: the Trakt card, checked against the sandbox."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pytest

from aperture_trakt_plugin.accounts import credentials
from aperture_trakt_plugin.web.texts import (
    MSG_APP_REFUSED_NOTE,
    MSG_CREATE_APP_HINT,
    MSG_FREE_ACCOUNT_HINT,
)
from harness.services import free_port
from tests.connect_helpers import RAY_ID_NOTE

PAGE = "/admin/settings/integrations"
SAVE = "/plugins/trakt/admin/settings"
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"


@pytest.fixture()
def host_config(sandbox_server):
    return {
        "APERTURE_TRAKT_API_URL": sandbox_server.url,
        "APERTURE_TRAKT_AUTH_URL": sandbox_server.url,
        "PUBLIC_BASE_URL": "http://aperture.test",
    }  # the callback needs a public URL


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} field in the page"
    return match.group(1)


def submit(client, **fields):
    """Posts the card's form as a browser would: with the token and `next` from the page."""
    page = client.get(PAGE).get_data(as_text=True)
    data = {
        "csrf_token": hidden(page, "csrf_token"),
        "next": hidden(page, "next"),
        "client_id": "",
        "client_secret": "",
        "redirect_uri": "",
    }
    data.update(fields)
    response = client.post(SAVE, data=data, follow_redirects=True)
    assert response.status_code == 200
    return htmllib.unescape(response.get_data(as_text=True))


def stored(host_app) -> dict:
    with host_app.app_context():
        return host_app.extensions["aperture_trakt"].settings.values()


@pytest.fixture()
def admin(host_client, login):
    login(host_client, "admin")
    return host_client


def test_admin_sees_the_card_with_the_exact_redirect_uri(admin, host_app):
    html = admin.get(PAGE).get_data(as_text=True)
    assert 'id="trakt-integration"' in html
    assert "not configured" in html
    uri = re.search(r'<code id="trakt-redirect-uri">([^<]+)</code>', html).group(1)
    assert uri.endswith("/plugins/trakt/callback") and uri.startswith("http")
    assert 'id="trakt-copy-redirect"' in html


def test_the_card_sends_admins_to_developer_trakt_tv_and_says_what_keeps_an_app(admin, host_app):
    """Apps moved to developer.trakt.tv (CONTRACT 4.1, 2026-10-22); they need an active
    VIP account to exist, and a free user account holds one connected app."""
    html = htmllib.unescape(admin.get(PAGE).get_data(as_text=True))
    assert MSG_CREATE_APP_HINT in html and MSG_FREE_ACCOUNT_HINT in html
    assert "https://developer.trakt.tv" in MSG_CREATE_APP_HINT
    assert "Your API Apps" not in html
    with host_app.app_context():  # a refusal found by a job, as the card shows it
        host_app.extensions["aperture_trakt"].settings.set_credentials_problem("refused")
    html = htmllib.unescape(admin.get(PAGE).get_data(as_text=True))
    assert MSG_APP_REFUSED_NOTE in html
    assert "https://developer.trakt.tv" in MSG_APP_REFUSED_NOTE


def test_valid_credentials_are_checked_stored_and_never_shown(admin, host_app, sandbox):
    sandbox.clear_requests()
    html = submit(admin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert "Saved. Trakt accepted the Client ID and Client Secret." in html
    assert stored(host_app)["client_id"] == CLIENT_ID
    assert stored(host_app)["client_secret"] == CLIENT_SECRET
    assert CLIENT_SECRET not in html and CLIENT_ID not in html
    assert "Client Secret: set" in html and "Client ID: set" in html
    paths = [r["path"] for r in sandbox.requests()]
    assert "/movies/trending" in paths and "/oauth/token" in paths


def test_saving_twice_keeps_both_values(admin, host_app, sandbox):
    submit(admin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    html = submit(admin)  # the form as shown: both fields empty
    assert "Saved." in html
    assert stored(host_app) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": None,
    }


def test_pasted_values_lose_spaces_and_line_breaks(admin, host_app, sandbox):
    html = submit(admin, client_id=f"  {CLIENT_ID}\n", client_secret=f"\t{CLIENT_SECRET} \r\n")
    assert "Saved." in html
    assert stored(host_app)["client_id"] == CLIENT_ID
    assert stored(host_app)["client_secret"] == CLIENT_SECRET


def test_unknown_client_id_is_refused_with_its_own_message(admin, host_app, sandbox):
    html = submit(admin, client_id="no-such-app", client_secret=CLIENT_SECRET)
    assert credentials.MSG_UNKNOWN_CLIENT_ID in html
    assert stored(host_app)["client_id"] is None


def test_rejected_secret_is_refused_with_its_own_message(admin, host_app, sandbox):
    html = submit(admin, client_id=CLIENT_ID, client_secret="wrong")
    assert credentials.MSG_REJECTED_SECRET in html
    assert stored(host_app)["client_secret"] is None
    assert 'id="trakt-save-anyway"' in html


def test_unreachable_trakt_stores_nothing_unless_saved_anyway(admin, host_app):
    dead = f"http://127.0.0.1:{free_port()}"
    host_app.config.update(APERTURE_TRAKT_API_URL=dead, APERTURE_TRAKT_AUTH_URL=dead)
    html = submit(admin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert "Could not check the credentials: Trakt could not be reached" in html
    assert stored(host_app)["client_id"] is None
    html = submit(admin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, save_anyway="1")
    assert "Saved without a successful check" in html
    assert stored(host_app)["client_secret"] == CLIENT_SECRET


@pytest.mark.parametrize(
    "path", ["/movies/trending", "/oauth/token"], ids=["client-id-call", "secret-call"]
)
def test_cloudflares_403_on_either_check_means_not_checked(path, admin, host_app, sandbox):
    """Cloudflare's firewall blocking either of the check's two calls gives no verdict on
    the credentials: "could not check" (nothing saved, "Save anyway" offered), not
    "Invalid credentials"; the Ray ID is there to quote to Trakt."""
    sandbox.cloudflare_403("*", path)
    html = submit(admin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert re.search(
        re.escape(
            "Could not check the credentials: Trakt's firewall (Cloudflare) blocked the check"
        )
        + RAY_ID_NOTE
        + re.escape(
            ", so Trakt never saw them. Nothing was saved; try again later, or tick "
            "\u201cSave anyway\u201d."
        ),
        html,
    ), html
    assert "Invalid credentials" not in html
    assert stored(host_app)["client_id"] is None
    assert 'id="trakt-save-anyway"' in html
    with host_app.app_context():
        assert host_app.extensions["aperture_trakt"].settings.credentials_problem() is None
    html = submit(admin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)  # block lifted
    assert "Saved. Trakt accepted the Client ID and Client Secret." in html


def test_trakts_own_403_is_invalid_credentials(admin, host_app, sandbox):
    """The same 403 from Trakt's application (JSON, not a page) does refuse the Client ID."""
    sandbox.fault("GET", "/movies/trending", 403, body={"error": "forbidden"})
    html = submit(admin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert credentials.MSG_UNKNOWN_CLIENT_ID in html
    assert "https://developer.trakt.tv" in html
    assert stored(host_app)["client_id"] is None


def test_database_file_holds_no_plaintext_secret(admin, host_app, sandbox):
    submit(admin, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    with host_app.app_context():
        host_app.extensions["aperture_host"].db.engine.dispose()  # flush nothing pending
        path = Path(host_app.extensions["aperture_host"].db.engine.url.database)
    raw = path.read_bytes()
    assert b"sandbox-client-secret" not in raw
    assert b"sandbox-client-id" not in raw
    assert b"atp2:" in raw  # sealed values (crypto.SEALED_PREFIX) are there instead


def test_non_admin_gets_403_on_the_page_and_the_endpoint(host_client, login, host_app):
    login(host_client, "alice")
    assert host_client.get(PAGE).status_code == 403
    response = host_client.post(SAVE, data={"client_id": "x", "client_secret": "y"})
    assert response.status_code in (400, 403)  # refused either way; never stored
    # With a valid token from a page alice can see, the answer is the admin check: 403.
    html = host_client.get("/settings/profile").get_data(as_text=True)
    token = hidden(html, "csrf_token")
    response = host_client.post(
        SAVE, data={"csrf_token": token, "client_id": "x", "client_secret": "y"}
    )
    assert response.status_code == 403
    assert stored(host_app)["client_id"] is None


def test_post_without_csrf_token_is_rejected(admin, host_app):
    response = admin.post(SAVE, data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert response.status_code == 400
    assert stored(host_app)["client_id"] is None


def test_cli_sets_and_shows_the_settings_masked(host_app, sandbox):
    runner = host_app.test_cli_runner()
    result = runner.invoke(
        args=[
            "trakt",
            "settings",
            "set",
            "--client-id",
            f" {CLIENT_ID} ",
            "--client-secret",
            CLIENT_SECRET,
        ]
    )
    assert result.exit_code == 0, result.output
    shown = runner.invoke(args=["trakt", "settings", "show"])
    assert "client_secret: set" in shown.output
    assert CLIENT_SECRET not in shown.output and CLIENT_ID not in shown.output
    bad = runner.invoke(args=["trakt", "settings", "set", "--client-secret", "wrong"])
    assert bad.exit_code == 1
    assert "Invalid credentials: Trakt rejected the Client Secret" in bad.output
    assert stored(host_app)["client_secret"] == CLIENT_SECRET

"""The Integrations card in a real browser: an admin saves credentials and sees them masked."""

from __future__ import annotations

import os

import pytest

from harness.services import REPO, WSGIServerThread

# The README's picture; refreshed only on request, so a test run leaves the tree clean.
SCREENSHOT = REPO / "docs" / "images" / "admin-integrations.png"
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"


@pytest.fixture()
def host_config(sandbox_server):
    return {
        "APERTURE_TRAKT_API_URL": sandbox_server.url,
        "APERTURE_TRAKT_AUTH_URL": sandbox_server.url,
    }


@pytest.fixture()
def served_host(host_app):
    with WSGIServerThread(host_app) as server:
        host_app.config["PUBLIC_BASE_URL"] = server.url
        yield server


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.click(f"button[value='{username}']")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.browser
def test_admin_saves_credentials_and_sees_them_masked(page, served_host, sandbox, host_app):
    base = served_host.url
    log_in(page, base, "admin")
    page.goto(f"{base}/admin/settings/integrations")
    card = page.locator("#trakt-integration")
    assert card.get_attribute("data-configured") == "no"
    assert page.inner_text("#trakt-redirect-uri") == f"{base}/plugins/trakt/callback"
    # The Client ID is no secret (every API call carries it): a plain field; the secret's
    # field hides what is typed.
    assert page.get_attribute("#trakt-client-id", "type") == "text"
    assert page.get_attribute("#trakt-client-secret", "type") == "password"

    page.fill("#trakt-client-id", "  sandbox-client-id ")
    page.fill("#trakt-client-secret", "sandbox-client-secret\n")
    page.click("#trakt-save")
    notice = page.wait_for_selector("#trakt-admin-notice")
    assert "Trakt accepted the Client ID and Client Secret" in notice.inner_text()
    assert page.locator("#trakt-integration").get_attribute("data-configured") == "yes"
    assert page.inner_text("#trakt-client-secret-state") == "Client Secret: set"
    assert page.input_value("#trakt-client-secret") == ""
    assert "sandbox-client-secret" not in page.content()
    shot = card.screenshot()
    assert shot.startswith(b"\x89PNG")
    if UPDATE_SCREENSHOTS:
        SCREENSHOT.write_bytes(shot)

    page.fill("#trakt-client-secret", "wrong-secret")
    page.click("#trakt-save")
    page.wait_for_selector("#trakt-admin-notice")
    assert page.inner_text("#trakt-admin-notice").startswith(
        "Invalid credentials: Trakt rejected the Client Secret"
    )
    with host_app.app_context():
        kept = host_app.extensions["aperture_trakt"].settings.values()["client_secret"]
    assert kept == "sandbox-client-secret"

"""Connecting Trakt in a real browser: the popup flow and the device flow, end to end.

An admin sets the app up on the Integrations page; then a user connects through the
sandbox's own sign-in and approval pages, exactly as they would on trakt.tv.
"""

from __future__ import annotations

import pytest

from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from harness.services import REPO, WSGIServerThread
from tests.browser.test_browser_admin import UPDATE_SCREENSHOTS

CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"


@pytest.fixture()
def host_config(sandbox_server):
    return {
        "APERTURE_TRAKT_API_URL": sandbox_server.url,
        "APERTURE_TRAKT_AUTH_URL": sandbox_server.url,
    }


@pytest.fixture()
def site(host_app, sandbox):
    """The host served on loopback, with its callback registered at the sandbox's app."""
    with WSGIServerThread(host_app) as server:
        host_app.config["PUBLIC_BASE_URL"] = server.url
        sandbox.add_app(
            CLIENT_ID, CLIENT_SECRET, [f"{server.url}/plugins/trakt/callback", OOB_REDIRECT_URI]
        )
        yield server.url


@pytest.fixture()
def user_page(browser):
    """A second browser profile, so the admin's and the user's sessions stay apart."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.click(f"#login-{username}")
    page.wait_for_url(lambda url: "/login" not in url)


def configure_as_admin(page, base: str, redirect_uri: str = "") -> None:
    log_in(page, base, "admin")
    page.goto(f"{base}/admin/settings/integrations")
    page.fill("#trakt-client-id", CLIENT_ID)
    page.fill("#trakt-client-secret", CLIENT_SECRET)
    page.fill("#trakt-redirect-input", redirect_uri)
    page.click("#trakt-save")
    assert "Trakt accepted" in page.wait_for_selector("#trakt-admin-notice").inner_text()


def approve_in_popup(page, trakt_user: str) -> None:
    """Connect Trakt: the sandbox's sign-in page in the popup, sign in, approve."""
    with page.expect_popup() as popup_info:
        page.click("#trakt-connect")
    popup = popup_info.value
    popup.wait_for_selector("#username")  # the sandbox's "sign in to Trakt" page
    popup.fill("#username", trakt_user)
    popup.click("#login")
    with popup.expect_event("close"):  # the result page tells the opener and closes itself
        popup.click("#approve")


def profile_state(page) -> str:
    return page.get_attribute("#trakt-profile", "data-state")


@pytest.mark.browser
def test_profile_offers_nothing_before_an_admin_configures_trakt(page, site):
    log_in(page, site, "alice")
    page.goto(f"{site}/settings/profile")
    assert profile_state(page) == "unconfigured"
    assert "An admin has to add a Trakt app" in page.inner_text("#trakt-not-configured")
    assert page.locator("#trakt-profile button").count() == 0


@pytest.mark.browser
def test_connect_in_a_popup_reload_and_disconnect(page, user_page, site, sandbox, host_app):
    configure_as_admin(page, site)
    log_in(user_page, site, "alice")
    user_page.goto(f"{site}/settings/profile")
    assert profile_state(user_page) == "disconnected"

    approve_in_popup(user_page, "alice_trakt")

    user_page.wait_for_selector("#trakt-connected-as")
    assert user_page.inner_text("#trakt-connected-as") == "Trakt account: alice_trakt"
    assert "Connected as alice_trakt." in user_page.inner_text("#trakt-profile-notice")
    authorize = sandbox.requests(path="/oauth/authorize")[0]
    assert authorize["query"]["code_challenge_method"] == "S256"
    # The admin's credential check (400 for its probe code), then alice's exchange.
    assert [r["status"] for r in sandbox.requests(method="POST", path="/oauth/token")] == [400, 200]

    user_page.reload()
    assert profile_state(user_page) == "connected"
    assert user_page.inner_text("#trakt-connected-as") == "Trakt account: alice_trakt"

    user_page.click("#trakt-disconnect")
    user_page.wait_for_selector("#trakt-connect")
    assert "Disconnected from Trakt" in user_page.inner_text("#trakt-profile-notice")
    assert profile_state(user_page) == "disconnected"
    assert [r["status"] for r in sandbox.requests(method="POST", path="/oauth/revoke")] == [200]


@pytest.mark.browser
def test_connect_with_a_device_code_when_the_app_uses_the_oob_uri(
    page, user_page, site, sandbox, browser
):
    configure_as_admin(page, site, redirect_uri=OOB_REDIRECT_URI)
    log_in(user_page, site, "bob")
    user_page.goto(f"{site}/settings/profile")
    assert user_page.locator("#trakt-connect").count() == 0  # no redirect flow with oob
    user_page.click("#trakt-connect-device")
    code = user_page.wait_for_selector("#trakt-device-code").inner_text().strip()
    activate_url = user_page.get_attribute("#trakt-device-url", "href")
    assert activate_url.endswith(f"/{code}")

    # Bob enters the code on "Trakt" in another tab, as the profile tells him to.
    trakt_tab = user_page.context.new_page()
    trakt_tab.goto(activate_url)
    trakt_tab.fill("#username", "bob_trakt")
    trakt_tab.click("#login")
    trakt_tab.click("#approve")

    # The profile polls at Trakt's interval (5 s) and shows the result without a reload.
    user_page.wait_for_selector("#trakt-connected-as", timeout=30_000)
    assert user_page.inner_text("#trakt-connected-as") == "Trakt account: bob_trakt"
    assert profile_state(user_page) == "connected"
    polls = sandbox.requests(method="POST", path="/oauth/device/token")
    assert polls and polls[-1]["status"] == 200
    assert all(p["status"] in (200, 400) for p in polls), "polled faster than the interval"


@pytest.mark.browser
def test_the_card_shows_the_first_sync_and_watchlist_as_they_arrive(
    page, user_page, site, sandbox, host_app, host_config, tmp_path
):
    """After the popup, the jobs the connect queued run in a real worker; the card redraws
    itself (no reload) until both are in, and says "Connected" once, never again."""
    from tests.fixtures_host import start_worker, wait_for_workers

    configure_as_admin(page, site)
    worker = start_worker(host_app, host_config, tmp_path / "logs")
    try:
        wait_for_workers(host_app, worker)
        # The first sync's first call answers late, so the card is seen before it lands.
        sandbox.fault("GET", "/sync/last_activities", delay_ms=3000, count=1)
        log_in(user_page, site, "alice")
        user_page.goto(f"{site}/settings/profile")
        approve_in_popup(user_page, "alice_trakt")
        user_page.wait_for_selector("#trakt-connected-as")
        notices = [user_page.inner_text("#trakt-profile").count("Connected as alice_trakt.")]
        assert "Not synced yet" in user_page.inner_text("#trakt-profile")
        assert user_page.get_attribute("#trakt-profile", "data-live-every") == "3"

        # No reload from here on: the card fetches itself until the jobs are done.
        user_page.wait_for_function(
            "() => { const c = document.getElementById('trakt-profile');"
            " return c && !c.dataset.liveEvery; }",
            timeout=30_000,
        )
        card = user_page.inner_text("#trakt-profile")
        notices.append(card.count("Connected as alice_trakt."))
        assert "not synced yet" not in card.lower()
        assert user_page.locator("#trakt-watchlist-empty, #trakt-watchlist-count").count() == 1
        assert "Not read from Trakt yet" not in user_page.inner_text("#trakt-watchlist")
        assert notices == [1, 0], notices  # said once, when it happened
        if UPDATE_SCREENSHOTS:  # the README's picture: the card with both arrived
            user_page.locator("#trakt-profile").screenshot(
                path=str(REPO / "docs" / "images" / "profile-connected.png")
            )
    finally:
        worker.stop()

"""The sync status of every user, in a real browser, inside the host's layout (issue 18).

An admin follows the host's menus to Admin → Settings → Setup → Integrations, opens
"Sync status of every user" from the Trakt card, and finds the host's own header and
navigation around the plugin's table: a row per connected user with their status in
words (alice synced, bob not yet), a user's page with the way back to all users, and the
host's Jobs link leading on to Admin → Jobs.
"""

from __future__ import annotations

import pytest

from harness.services import REPO, WSGIServerThread
from tests.browser.test_browser_admin import UPDATE_SCREENSHOTS, log_in
from tests.connect_helpers import (
    configure_trakt,
    connect_with_tokens,
    run_trakt_jobs,
    trakt_queue,
    user_id,
)

pytestmark = [pytest.mark.browser, pytest.mark.trakt]

SCREENSHOT = REPO / "docs" / "images" / "status-page.png"


@pytest.fixture()
def served_host(host_app):
    with WSGIServerThread(host_app) as server:
        host_app.config["PUBLIC_BASE_URL"] = server.url
        yield server


def test_the_status_of_every_user_sits_inside_the_hosts_layout(
    page, served_host, host_app, sandbox
):
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    run_trakt_jobs(host_app)  # alice's first sync and discovery
    connect_with_tokens(host_app, sandbox, "bob", "bob_trakt")
    trakt_queue(host_app).empty()  # bob's first sync has not run yet
    alice, bob = user_id(host_app, "alice"), user_id(host_app, "bob")
    base = served_host.url

    log_in(page, base, "admin")
    page.click("header.topbar nav >> text=Integrations")
    page.click("#trakt-integration #trakt-status-link")
    page.wait_for_url(f"{base}/plugins/trakt/admin/status")
    # The host's page: its header and menus once, the plugin's table inside.
    assert page.locator("header.topbar").count() == 1
    assert page.title().endswith("· Aperture (reference host)")
    assert page.inner_text("h1") == "Trakt sync status"
    rows = page.locator("#trakt-status-table tbody tr")
    assert rows.count() == 2
    alice_row = page.inner_text(f"#trakt-status-user-{alice}")
    bob_row = page.inner_text(f"#trakt-status-user-{bob}")
    assert "alice (Trakt alice_trakt)" in alice_row and "In sync; next run at" in alice_row
    assert "bob (Trakt bob_trakt)" in bob_row and "Not synced yet; next run at" in bob_row
    assert "not synced yet" in bob_row  # the last sync's column
    if UPDATE_SCREENSHOTS:
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.click(f"#trakt-status-user-{alice} a")
    page.wait_for_url(f"{base}/plugins/trakt/admin/status/{alice}")
    assert page.locator("header.topbar").count() == 1
    page.click("#trakt-status-back")
    page.wait_for_url(f"{base}/plugins/trakt/admin/status")
    page.click("header.topbar nav >> text=Jobs")
    page.wait_for_url(f"{base}/admin/jobs")
    assert page.inner_text("h1") == "Admin → Jobs" and "sync-trakt-ratings" in page.content()

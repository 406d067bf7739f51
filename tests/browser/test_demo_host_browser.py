"""The reference host in a real Chromium: log in as alice, rate The Matrix, see it kept."""

from __future__ import annotations

import re

import pytest

from harness.reference_host.testplugins import Recorder
from harness.services import WSGIServerThread

pytestmark = pytest.mark.browser


@pytest.fixture()
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture()
def host_config(recorder):
    return {"APERTURE_LOAD_ENTRY_POINTS": False, "APERTURE_PLUGINS": [recorder]}


@pytest.fixture()
def host_server(host_app):
    with WSGIServerThread(host_app) as server:
        yield server


def test_alice_rates_the_matrix_in_the_browser(page, host_server, host_app, recorder):
    """``page`` is the shared Chromium page from ``tests/fixtures_browser.py``."""
    from playwright.sync_api import expect

    page.goto(f"{host_server.url}/library")
    expect(page).to_have_url(re.compile(r"/login"))
    page.click("#login-alice")
    expect(page.locator("#current-user")).to_have_text("alice")

    page.goto(f"{host_server.url}/library")
    page.fill("input[name=q]", "The Matrix")
    page.click("form.search button")
    row = page.locator('tr[data-tmdb="603"]')
    expect(row).to_have_count(1)
    row.locator("select[name=value]").select_option("9")
    row.get_by_role("button", name="Rate").click()

    expect(page.locator(".flash-success")).to_have_text("Rated The Matrix 9/10.")
    row = page.locator('tr[data-tmdb="603"]')
    expect(row.locator(".current-rating")).to_have_text("9/10")
    expect(row.locator("select[name=value]")).to_have_value("9")

    page.reload()
    expect(row.locator(".current-rating")).to_have_text("9/10")
    services = host_app.extensions["aperture_host"]
    alice = services.get_user_by_name("alice")
    assert [(r.media.ids.tmdb, r.value, r.source) for r in services.list_ratings(alice.id)] == [
        (603, 9, "aperture")
    ]
    assert [c["value"] for c in recorder.named("aperture_rating_changed")] == [9]

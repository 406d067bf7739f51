"""The Discovery page in a real Chromium: Trakt's labels and reasons, and "Not interested"
(issue 7).

The caches are filled the way the scheduled job fills them (``refresh.refresh`` in this
process, against the sandbox), the host is served on a real port, and alice uses the page
as a person would: reads the labels, presses "Not interested", and the title is gone after
the redirect. Then the hide job runs (in this process, with the host's worker class) and
the sandbox's request log shows the call Trakt would have received.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from aperture_trakt_plugin.discovery import refresh
from harness.services import WSGIServerThread
from harness.trakt_sandbox.control_client import SandboxControl
from tests.browser.test_browser_admin import log_in
from tests.connect_helpers import configure_trakt, connect_with_tokens, run_trakt_jobs

pytestmark = [pytest.mark.browser, pytest.mark.trakt]

SEEN_BY_ALICE = {27205, 550, 680}  # the demo's seeded watch history of alice


@pytest.fixture()
def filled(host_app: Flask, sandbox: SandboxControl) -> dict[str, Any]:
    """Alice connected, one trending movie on her Trakt watchlist, and every discovery
    cache filled by a real refresh (trending, popular, her recommendations and watchlist).
    Returns the watchlisted movie, which the page must show with two labels."""
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    trending = [
        item["movie"]
        for item in sandbox.api("GET", "/movies/trending", params={"limit": 20}).json()
    ]
    listed = next(m for m in trending if m["ids"]["tmdb"] not in SEEN_BY_ALICE)
    sandbox.set_watchlist("alice_trakt", [{"type": "movie", "movie": listed}])
    with host_app.app_context():
        result = refresh.refresh()
    assert not result.errors, result.errors
    sandbox.clear_requests()
    return listed


@pytest.fixture()
def site(host_app: Flask) -> Iterator[str]:
    with WSGIServerThread(host_app) as server:
        yield server.url


def test_discovery_shows_trakt_labels_and_hides_a_title(
    page: Any, site: str, filled: dict, host_app: Flask, sandbox: SandboxControl
) -> None:
    from playwright.sync_api import expect

    log_in(page, site, "alice")
    page.goto(f"{site}/discover")
    expect(page.locator("h1")).to_have_text("Discovery")
    labels = set(page.locator(".badge.source-label").all_inner_texts())
    assert {
        "Trakt Recommended",
        "Your Trakt watchlist",
        "Trakt Trending",
        "Trakt Popular",
    } <= labels, labels
    reasons = set(page.locator(".candidate .reason").all_inner_texts())
    assert {"Recommended for you by Trakt", "Trending on Trakt"} <= reasons, reasons

    # The watchlisted trending movie carries the label of every list it is on.
    listed = page.locator(
        f'#source-trakt-trending li.candidate[data-kind="movie"]'
        f'[data-tmdb="{filled["ids"]["tmdb"]}"]'
    )
    expect(listed).to_have_count(1)
    merged = listed.locator(".badge.source-label").all_inner_texts()
    assert {"Your Trakt watchlist", "Trakt Trending"} <= set(merged), merged
    assert len(merged) == len(set(merged))  # each label once
    # A person put it on their watchlist: no "Not interested" on it, here or anywhere.
    assert listed.locator("form.not-interested").count() == 0

    # A grid a person can scan: a tab per source, cards with a poster (or its placeholder),
    # and no raw ids on the page.
    tabs = page.locator("nav.discovery-tabs a").all_inner_texts()
    assert tabs == page.locator("section.discovery-source h2").all_inner_texts()
    cards = page.locator("li.candidate")
    assert cards.count() == page.locator("li.candidate .poster").count() > 0
    # Posters from Trakt's images (the sandbox's generated ones), a placeholder without.
    posters = page.locator("li.candidate img.poster")
    assert 0 < posters.count() < cards.count()
    assert page.locator("li.candidate div.poster.placeholder").count() > 0
    first = posters.first
    assert first.get_attribute("src").startswith(sandbox.url + "/images/")
    assert first.get_attribute("referrerpolicy") == "no-referrer"
    first.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('li.candidate img.poster');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    body = page.inner_text("main")
    assert "tmdb " not in body and "imdb tt" not in body
    assert page.locator(".candidate .ids").count() == 0

    # Not interested in Trakt's first recommended movie.
    target = page.locator(
        '#source-trakt-recommended li.candidate[data-kind="movie"]:has(form.not-interested)'
    ).first
    tmdb = target.get_attribute("data-tmdb")
    trakt_id = target.locator('input[name="trakt"]').get_attribute("value")
    title = target.locator("strong").inner_text()
    same_title = page.locator(f'li.candidate[data-kind="movie"][data-tmdb="{tmdb}"]')
    assert same_title.count() >= 1
    with page.expect_navigation():
        target.get_by_role("button", name="Not interested").click()

    assert page.url == f"{site}/discover"
    expect(page.locator(".flash-success")).to_contain_text(
        f"{title} is hidden from your discovery."
    )
    expect(same_title).to_have_count(0)  # from every list it was on, not only this one
    expect(page.locator("#source-trakt-recommended li.candidate").first).to_be_visible()
    assert sandbox.requests(method="DELETE") == [], "the page itself called Trakt"

    run_trakt_jobs(host_app)  # the hide job the button queued
    hides = sandbox.requests(method="DELETE")
    assert [(h["path"], h["user"], h["status"]) for h in hides] == [
        (f"/recommendations/movies/{trakt_id}", "alice_trakt", 204)
    ]
    assert [h["movie"]["ids"]["tmdb"] for h in sandbox.hidden("alice_trakt")] == [int(tmdb)]
    page.reload()
    expect(same_title).to_have_count(0)  # and it stays hidden

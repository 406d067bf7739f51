"""A notice belongs to the user who caused it (issue 15).

The plugin keeps the outcome of a post in the session for the card (or the host's
flashed messages) to show on the next page. The session outlives a logout, so before,
Alice's "Disconnected from Trakt" or "… is hidden from your discovery" showed to Bob
when he signed in next on the same browser.
"""

from __future__ import annotations

import html as htmllib

import pytest

from aperture_trakt_plugin.web.connect import MSG_DISCONNECTED
from aperture_trakt_plugin.web.discover import MSG_HIDDEN
from tests.connect_helpers import (
    DISCONNECT,
    PROFILE,
    configure_trakt,
    connect_with_tokens,
    page,
    profile_csrf,
    text_of,
)
from tests.fixtures_host import csrf_token_from

pytestmark = [pytest.mark.trakt]


def logout(client, csrf_token: str) -> None:
    """Logs out with a token read earlier: reading a page now would show (and use up)
    the notice before the logout."""
    response = client.post("/logout", data={"csrf_token": csrf_token})
    assert response.status_code == 302


@pytest.fixture()
def alice(host_app, sandbox, host_client, login):
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    login(host_client, "alice")
    return host_client


def test_a_card_notice_does_not_survive_a_logout(alice, login):
    token = csrf_token_from(page(alice, PROFILE))
    response = alice.post(DISCONNECT, data={"csrf_token": token, "next": PROFILE})
    assert response.status_code == 302  # Alice leaves before the profile redraws
    logout(alice, token)
    login(alice, "bob")
    html = page(alice, PROFILE)
    assert text_of(html, "trakt-profile-notice") is None
    assert MSG_DISCONNECTED not in html
    login(alice, "alice")  # and it does not come back for Alice either: it was dropped
    assert MSG_DISCONNECTED not in page(alice, PROFILE)


def test_a_card_notice_does_not_show_to_another_user_signing_in(alice, login):
    alice.post(DISCONNECT, data={"csrf_token": profile_csrf(alice), "next": PROFILE})
    login(alice, "bob")  # no logout: someone else signs in on the shared browser
    assert MSG_DISCONNECTED not in page(alice, PROFILE)


def test_the_notice_still_shows_to_its_own_user(alice):
    alice.post(DISCONNECT, data={"csrf_token": profile_csrf(alice), "next": PROFILE})
    assert text_of(page(alice, PROFILE), "trakt-profile-notice") == MSG_DISCONNECTED


def test_a_hide_outcome_does_not_show_to_the_next_user(alice, login):
    html = page(alice, "/discover")
    response = alice.post(
        "/plugins/trakt/discover/hide",
        data={
            "csrf_token": csrf_token_from(html),
            "next": "/discover",
            "kind": "movie",
            "title": "Alice's secret title",
            "tmdb": "603",
        },
    )
    assert response.status_code == 302
    logout(alice, csrf_token_from(html))
    shown = htmllib.unescape(alice.get("/login").get_data(as_text=True))
    login(alice, "bob")
    shown += htmllib.unescape(alice.get("/", follow_redirects=True).get_data(as_text=True))
    shown += page(alice, "/discover")
    assert "Alice's secret title" not in shown


def test_a_hide_outcome_shows_on_the_users_next_page(alice):
    html = page(alice, "/discover")
    response = alice.post(
        "/plugins/trakt/discover/hide",
        data={
            "csrf_token": csrf_token_from(html),
            "next": "/discover",
            "kind": "movie",
            "title": "Some title",
            "tmdb": "603",
        },
        follow_redirects=True,
    )
    shown = htmllib.unescape(response.get_data(as_text=True))
    assert MSG_HIDDEN.format(title="Some title") in shown

"""Nobody can start, finish or undo another user's Trakt connection, at any endpoint.

Alice and Bob use separate browsers (test clients) unless a test says they share one.
"""

from __future__ import annotations

import pytest

from aperture_trakt_plugin.web.connect import MSG_OTHER_USER, MSG_STATE_MISMATCH, OAUTH_KEY
from tests.connect_helpers import (
    CALLBACK,
    CONNECT,
    DEVICE_POLL,
    DEVICE_START,
    DISCONNECT,
    PROFILE,
    PROFILE_CARD,
    authorize_at_sandbox,
    card_state,
    configure_trakt,
    connect_with_tokens,
    connection,
    device_grant,
    finish_web_connect,
    let_poll_interval_pass,
    page,
    post_json,
    profile_csrf,
    start_device,
    start_web_connect,
    text_of,
    user_id,
)
from tests.fixtures_host import csrf_token_from, login_as

pytestmark = [pytest.mark.trakt]


@pytest.fixture()
def configured(host_app, sandbox):
    configure_trakt(host_app, sandbox)
    return host_app


@pytest.fixture()
def alice(configured, host_client):
    login_as(host_client, "alice")
    return host_client


@pytest.fixture()
def bob(configured):
    client = configured.test_client()
    login_as(client, "bob")
    return client


def nobody_connected(host_app) -> bool:
    return connection(host_app, "alice") is None and connection(host_app, "bob") is None


def test_anonymous_visitors_reach_no_endpoint(configured, sandbox):
    client = configured.test_client()
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    for path in (CONNECT, CALLBACK + "?code=x&state=y", PROFILE_CARD):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for path in (DEVICE_START, DEVICE_POLL, DISCONNECT):
        response = client.post(path, data={"csrf_token": token})
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert sandbox.requests() == []


def test_bob_cannot_finish_alices_flow_with_her_redirect(alice, bob, configured, sandbox):
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    result = finish_web_connect(bob, query)  # alice's redirect, opened in bob's browser
    assert text_of(result, "trakt-result") == MSG_STATE_MISMATCH
    assert sandbox.requests(path="/oauth/token") == [] and nobody_connected(configured)
    # Alice's own flow is untouched and still finishes, for her alone.
    assert 'data-ok="yes"' in finish_web_connect(alice, query)
    assert connection(configured, "alice").trakt_username == "alice_on_trakt"
    assert connection(configured, "bob") is None


def test_a_flow_started_by_alice_cannot_finish_as_bob_in_the_same_browser(
    alice, configured, sandbox
):
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    login_as(alice, "bob")  # someone else signs in on the shared computer meanwhile
    result = finish_web_connect(alice, query)
    assert text_of(result, "trakt-result") == MSG_OTHER_USER
    assert text_of(page(alice), "trakt-profile-notice") == MSG_OTHER_USER
    assert sandbox.requests(path="/oauth/token") == [] and nobody_connected(configured)


def test_alices_code_is_useless_in_bobs_flow(alice, bob, configured, sandbox):
    """PKCE binds the code to the browser that started the flow."""
    alices = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    start_web_connect(bob)
    with bob.session_transaction() as session:
        bobs_state = session[OAUTH_KEY]["state"]
    result = finish_web_connect(bob, {"code": alices["code"], "state": bobs_state})
    assert "no longer accepts this authorization" in text_of(result, "trakt-result")
    assert [r["status"] for r in sandbox.requests(path="/oauth/token")] == [400]
    assert nobody_connected(configured)


def test_device_connections_are_per_user(alice, bob, configured, sandbox):
    alices = start_device(alice)
    _, polled = post_json(bob, DEVICE_POLL)
    assert polled["status"] == "none"  # bob cannot poll alice's code
    bobs = start_device(bob)
    assert bobs["user_code"] != alices["user_code"]
    assert device_grant(configured, "alice").user_code == alices["user_code"]
    assert card_state(page(bob)) == "device" and alices["user_code"] not in page(bob)

    sandbox.approve_device(alices["user_code"], "alice_on_trakt")
    let_poll_interval_pass(configured, sandbox, "bob")
    _, polled = post_json(bob, DEVICE_POLL)
    assert polled["status"] == "pending" and connection(configured, "bob") is None
    let_poll_interval_pass(configured, sandbox, "alice")
    _, polled = post_json(alice, DEVICE_POLL)
    assert polled["username"] == "alice_on_trakt"
    assert connection(configured, "alice").trakt_username == "alice_on_trakt"
    assert connection(configured, "bob") is None
    assert device_grant(configured, "bob").user_code == bobs["user_code"]


def test_bob_cannot_disconnect_alice(alice, bob, configured, sandbox):
    alices = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    connect_with_tokens(configured, sandbox, "bob", "bob_on_trakt")
    sandbox.clear_requests()
    response = bob.post(
        DISCONNECT,
        data={
            "csrf_token": profile_csrf(bob),
            "next": PROFILE,
            "user": "alice",
            "user_id": str(user_id(configured, "alice")),
            "username": "alice",
        },
    )
    assert response.status_code == 302
    assert connection(configured, "bob") is None
    assert connection(configured, "alice").access_token == alices.access_token
    assert len(sandbox.requests(path="/oauth/revoke")) == 1
    assert sandbox.api("GET", "/users/settings", token=alices.access_token).status_code == 200
    assert card_state(page(alice)) == "connected"


def test_alices_form_token_does_not_work_in_bobs_session(alice, bob, configured, sandbox):
    connect_with_tokens(configured, sandbox, "bob", "bob_on_trakt")
    alices_token = profile_csrf(alice)
    for path in (DEVICE_START, DEVICE_POLL, DISCONNECT):
        assert bob.post(path, data={"csrf_token": alices_token}).status_code == 400, path
    assert connection(configured, "bob") is not None
    assert device_grant(configured, "bob") is None


def test_each_profile_card_shows_only_its_own_connection(alice, bob, configured, sandbox):
    connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    assert card_state(page(alice, PROFILE_CARD)) == "connected"
    bobs_card = page(bob, PROFILE_CARD)
    assert card_state(bobs_card) == "disconnected" and "alice_on_trakt" not in bobs_card

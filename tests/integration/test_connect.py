"""Connecting Trakt from the profile with the popup (authorization code + PKCE) flow.

The popup is driven without a browser: the host through its test client, Trakt's sign-in
and consent pages through a ``requests`` session against the sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from rq.job import Job

from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from aperture_trakt_plugin.usecases import jobs
from aperture_trakt_plugin.web.connect import MSG_DENIED, MSG_STATE_MISMATCH, OAUTH_KEY
from tests.connect_helpers import (
    CALLBACK_URL,
    CLIENT_ID,
    PROFILE,
    PROFILE_CARD,
    authorize_at_sandbox,
    card_state,
    configure_trakt,
    connect_user,
    connection,
    database_bytes,
    finish_web_connect,
    page,
    query_of,
    start_web_connect,
    text_of,
    trakt_queue,
    user_id,
)

pytestmark = [pytest.mark.trakt, pytest.mark.both_databases]

OAUTH_SESSION_KEY = OAUTH_KEY


@pytest.fixture()
def alice(host_client, login):
    login(host_client, "alice")
    return host_client


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_before_an_admin_configures_trakt_the_profile_says_so_and_offers_nothing(alice, sandbox):
    html = page(alice)
    assert card_state(html) == "unconfigured"
    assert "An admin has to add a Trakt app" in text_of(html, "trakt-not-configured")
    card = html[html.index('id="trakt-profile"') : html.index("</section>")]
    assert "<button" not in card and "data-trakt-connect" not in card
    # Going to the connect URL anyway explains instead of sending anyone to Trakt.
    result = alice.get("/plugins/trakt/connect").get_data(as_text=True)
    assert 'data-ok="no"' in result and "an admin must enter" in result
    assert sandbox.requests() == []


def test_configured_profile_offers_the_popup_and_the_code_fallback(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    html = page(alice)
    assert card_state(html) == "disconnected"
    assert 'data-trakt-connect="/plugins/trakt/connect?next=/settings/profile"' in html
    assert 'id="trakt-connect"' in html and 'id="trakt-connect-device"' in html


def test_with_the_oob_redirect_uri_the_profile_uses_the_device_flow_only(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox, redirect_uri=OOB_REDIRECT_URI)
    html = page(alice)
    assert card_state(html) == "disconnected"
    assert 'id="trakt-connect-device"' in html
    assert 'id="trakt-connect"' not in html and "data-trakt-connect=" not in html


def test_connect_sends_the_popup_to_authorize_with_pkce_s256_and_a_bound_state(
    alice, host_app, sandbox
):
    configure_trakt(host_app, sandbox)
    url = start_web_connect(alice)
    assert url.startswith(host_app.config["APERTURE_TRAKT_AUTH_URL"] + "/oauth/authorize?")
    params = query_of(url)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == CALLBACK_URL
    assert params["code_challenge_method"] == "S256"
    with alice.session_transaction() as session:
        started = session[OAUTH_SESSION_KEY]
    assert started["user_id"] == user_id(host_app, "alice")
    assert params["state"] == started["state"] and len(started["state"]) >= 32
    assert params["code_challenge"] == s256(started["verifier"])
    assert 43 <= len(started["verifier"]) <= 128
    assert started["next"] == PROFILE


def test_connect_never_sends_the_popup_to_another_site_afterwards(alice, host_app, sandbox):
    """Browsers read ``/\\host`` and ``/<tab>/host`` as ``//host``: all go to the profile."""
    configure_trakt(host_app, sandbox)
    for elsewhere in (
        "https://evil.example/steal",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
    ):
        start_web_connect(alice, next_url=elsewhere)
        with alice.session_transaction() as session:
            assert session[OAUTH_SESSION_KEY]["next"] == "/", elsewhere


def test_popup_flow_connects_stores_the_token_encrypted_and_queues_the_first_sync(
    alice, host_app, sandbox
):
    configure_trakt(host_app, sandbox)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    result = finish_web_connect(alice, query)

    assert text_of(result, "trakt-result") == "Connected as alice_on_trakt."
    assert 'data-ok="yes"' in result
    # trakt.js (a static file, for a strict CSP) reads these and tells the opener.
    assert 'data-message="Connected as alice_on_trakt."' in result
    assert "/plugins/trakt/static/trakt/trakt.js" in result and "<script>" not in result

    token_calls = sandbox.requests(path="/oauth/token")
    assert [call["status"] for call in token_calls] == [200]
    assert sandbox.requests(path="/users/settings", user="alice_on_trakt", status=200)

    conn = connection(host_app, "alice")
    assert conn.trakt_username == "alice_on_trakt" and not conn.needs_reconnect
    assert sandbox.api("GET", "/users/settings", token=conn.access_token).status_code == 200
    raw = database_bytes(host_app)
    assert conn.access_token.encode() not in raw
    assert conn.refresh_token.encode() not in raw

    job_id = jobs.user_sync_job_id(user_id(host_app, "alice"))
    # The first sync, then the user's discovery lists (issue 7).
    assert trakt_queue(host_app).job_ids == [
        job_id,
        jobs.user_job_id("discovery", user_id(host_app, "alice")),
    ]
    job = Job.fetch(job_id, connection=trakt_queue(host_app).connection)
    assert job.func_name == "aperture_trakt_plugin.usecases.jobs.sync_user"
    assert job.args == (user_id(host_app, "alice"), None, False)

    profile = page(alice)
    assert card_state(profile) == "connected"
    assert text_of(profile, "trakt-connected-as") == "Trakt account: alice_on_trakt"
    assert text_of(profile, "trakt-profile-notice") == "Connected as alice_on_trakt."
    assert 'id="trakt-disconnect"' in profile
    assert "trakt-profile-notice" not in page(alice)  # shown once


def test_the_first_sync_runs_in_a_real_worker(host_app, host_client, sandbox, host_worker):
    configure_trakt(host_app, sandbox)
    connect_user(host_client, "alice", "alice_on_trakt")
    deadline = time.monotonic() + 20
    while (conn := connection(host_app, "alice")).last_sync_at is None:
        assert time.monotonic() < deadline, host_worker.output()[-3000:]
        time.sleep(0.1)
    assert conn.last_error is None and conn.ratings_marker
    assert sandbox.requests(path="/sync/last_activities", user="alice_on_trakt", status=200)
    assert "last synced" in page(host_client)


def test_denied_consent_says_so_in_the_popup_and_on_the_profile(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt", decision="deny")
    assert query["error"] == "access_denied"
    result = finish_web_connect(alice, query)
    assert text_of(result, "trakt-result") == MSG_DENIED and 'data-ok="no"' in result
    assert "<script>" not in result
    profile = page(alice)
    assert card_state(profile) == "disconnected"
    assert text_of(profile, "trakt-profile-notice") == MSG_DENIED
    assert connection(host_app, "alice") is None
    assert sandbox.requests(path="/oauth/token") == []


def test_other_trakt_errors_in_the_redirect_are_named(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    start_web_connect(alice)
    with alice.session_transaction() as session:
        state = session[OAUTH_SESSION_KEY]["state"]
    result = finish_web_connect(alice, {"error": "server_error", "state": state})
    assert text_of(result, "trakt-result") == "Trakt refused the connection: server_error."
    assert connection(host_app, "alice") is None


@pytest.mark.parametrize("tamper", ["wrong state", "no flow started", "state replayed"])
def test_a_state_mismatch_connects_nothing(alice, host_app, sandbox, tamper):
    configure_trakt(host_app, sandbox)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    if tamper == "wrong state":
        query["state"] = "x" * 32
    elif tamper == "no flow started":
        with alice.session_transaction() as session:
            session.pop(OAUTH_SESSION_KEY)
    else:
        assert 'data-ok="yes"' in finish_web_connect(alice, query)  # then again, e.g.
        # from the browser's history: the flow was used up by the first one
    result = finish_web_connect(alice, query)
    assert text_of(result, "trakt-result") == MSG_STATE_MISMATCH
    assert text_of(page(alice), "trakt-profile-notice") == MSG_STATE_MISMATCH
    exchanged = 1 if tamper == "state replayed" else 0
    assert len(sandbox.requests(path="/oauth/token")) == exchanged
    assert (connection(host_app, "alice") is not None) == (tamper == "state replayed")


def test_a_failed_code_exchange_explains_and_stores_nothing(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    sandbox.fault("POST", "/oauth/token", 503, body={"error": "temporarily_unavailable"})
    result = finish_web_connect(alice, query)
    message = text_of(result, "trakt-result")
    assert message == (
        "Connecting to Trakt: Trakt answered with an error page (503); try again in a few minutes"
    )
    assert 'data-ok="no"' in result
    assert text_of(page(alice), "trakt-profile-notice") == message
    assert connection(host_app, "alice") is None
    assert trakt_queue(host_app).count == 0


def test_an_html_error_page_from_trakt_is_called_that(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    sandbox.fault(
        "POST",
        "/oauth/token",
        502,
        body="<html><body>Bad gateway</body></html>",
        headers={"Content-Type": "text/html"},
    )
    result = finish_web_connect(alice, query)
    assert text_of(result, "trakt-result") == (
        "Connecting to Trakt: Trakt answered with an error page (502); try again in a few minutes"
    )
    assert connection(host_app, "alice") is None


def test_cloudflares_429_on_the_token_call_is_a_rate_limit(alice, host_app, sandbox):
    """Its HTML page has no OAuth error for Authlib to read, but it is still a rate limit,
    with Cloudflare's Retry-After (CONTRACT 9)."""
    configure_trakt(host_app, sandbox)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    sandbox.cloudflare_429("POST", "/oauth/token")
    result = finish_web_connect(alice, query)
    assert text_of(result, "trakt-result") == (
        "Connecting to Trakt: Trakt's rate limit was reached (retry after 300 s)"
    )
    assert connection(host_app, "alice") is None


def test_an_expired_code_is_reported_as_a_dead_authorization(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    sandbox.advance_clock(601)  # the sandbox's codes live 600 s
    result = finish_web_connect(alice, query)
    assert "no longer accepts this authorization" in text_of(result, "trakt-result")
    assert connection(host_app, "alice") is None


def test_reading_the_trakt_username_failing_connects_nothing(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    sandbox.fault("GET", "/users/settings", 500, count=-1)  # past the quick retries
    result = finish_web_connect(alice, query)
    assert text_of(result, "trakt-result").startswith("Reading your Trakt profile:")
    assert connection(host_app, "alice") is None


def test_the_card_alone_can_be_redrawn_after_the_popup(alice, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    authorize_and_finish = finish_web_connect(
        alice, authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    )
    assert 'data-ok="yes"' in authorize_and_finish
    card = page(alice, PROFILE_CARD + "?next=/settings/profile")
    assert card.lstrip().startswith('<div class="trakt-card" id="trakt-profile"')
    assert card_state(card) == "connected"
    assert 'name="next" value="/settings/profile"' in card

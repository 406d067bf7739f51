"""Keeping users' tokens fresh: expiry, refresh ahead of time, dead grants, and the
"needs reconnecting" state that scheduled work respects."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from rq.job import Job, JobStatus

from aperture_trakt_plugin.accounts import oauth, tokens
from aperture_trakt_plugin.queueing import retries
from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from aperture_trakt_plugin.trakt import device_flow
from aperture_trakt_plugin.trakt import oauth as trakt_oauth
from aperture_trakt_plugin.trakt.errors import FirewallBlocked, RateLimited, TraktServerError
from aperture_trakt_plugin.usecases import connections, jobs
from aperture_trakt_plugin.web.texts import MSG_RECONNECT_HELP
from tests.connect_helpers import (
    CALLBACK_URL,
    PROFILE,
    RAY_ID_NOTE,
    authorize_at_sandbox,
    card_state,
    configure_trakt,
    connect_with_tokens,
    connection,
    finish_web_connect,
    oauth_requests_seen,
    page,
    run_trakt_jobs,
    sandbox_settings,
    start_web_connect,
    status_json,
    text_of,
    trakt_queue,
    user_id,
)

pytestmark = [pytest.mark.trakt]

LAST_ACTIVITIES = "/sync/last_activities"
HOUR = 3600


@pytest.fixture()
def configured(host_app, sandbox):
    configure_trakt(host_app, sandbox)
    return host_app


def token_for(host_app, name: str, rejected: str | None = None) -> str:
    with host_app.app_context():
        return tokens.access_token(user_id(host_app, name), rejected=rejected)


def last_activities_as(host_app, name: str):
    """An authenticated call through ``call_as_user``, as every sync step makes it."""
    with host_app.app_context():
        client = oauth.api_client()
        return tokens.call_as_user(
            user_id(host_app, name), lambda token: client.get_json(LAST_ACTIVITIES, token=token)
        )


def sync(host_app, name: str) -> dict:
    with host_app.app_context():
        return jobs.sync_user(user_id(host_app, name))


def spend_refresh_token(sandbox, conn) -> None:
    """Another installation with the same pair refreshes first: the stored refresh token
    is used up at Trakt (they rotate and are single-use)."""
    response = sandbox.http.post(
        sandbox.url + "/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": conn.refresh_token,
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_expiry_is_created_at_plus_expires_in(configured, sandbox):
    sandbox.advance_clock(30 * 86400)  # Trakt's clock, not ours, sets created_at
    conn = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt", expires_in=12345)
    issued_at = datetime.fromisoformat(sandbox.clock()["now"].replace("Z", "+00:00"))
    assert abs(conn.token_created_at - issued_at) < timedelta(seconds=5)
    assert conn.expires_at - conn.token_created_at == timedelta(seconds=12345)
    [row] = status_json(configured, "--user", "alice")
    assert row["token_expires_at"] == conn.expires_at.isoformat().replace("+00:00", "Z")


def test_a_token_far_from_expiry_is_used_as_it_is(configured, sandbox):
    conn = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    assert token_for(configured, "alice") == conn.access_token
    assert sandbox.requests(path="/oauth/token") == []


def test_a_fresh_24_hour_token_is_used_not_refreshed(configured, sandbox):
    """Trakt's tokens last a day since March 2025; the one-day margin meant for 90-day
    tokens must not turn every call into a refresh (each spends a single-use token)."""
    conn = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt", expires_in=24 * HOUR)
    assert token_for(configured, "alice") == conn.access_token
    assert sandbox.requests(path="/oauth/token") == []


def test_a_token_within_the_margin_is_refreshed_and_stored_before_use(configured, sandbox):
    old = connect_with_tokens(
        configured, sandbox, "alice", "alice_on_trakt", seconds_left=HOUR
    )  # within the margin
    fresh = token_for(configured, "alice")
    assert fresh != old.access_token
    assert [r["status"] for r in sandbox.requests(path="/oauth/token")] == [200]
    stored = connection(configured, "alice")  # read back from the database
    assert stored.access_token == fresh
    assert stored.refresh_token not in (None, old.refresh_token)
    assert stored.expires_at - datetime.now(UTC) > timedelta(days=6)
    assert sandbox.api("GET", "/users/settings", token=fresh).status_code == 200
    assert token_for(configured, "alice") == fresh  # no second refresh
    assert len(sandbox.requests(path="/oauth/token")) == 1
    redis = configured.extensions["aperture_host"].redis
    assert not redis.exists(tokens.LOCK_KEY.format(user_id=user_id(configured, "alice")))


def test_the_pair_is_read_again_after_waiting_for_the_lock(configured, sandbox):
    """While another process holds the lock and refreshes, we wait, then use its pair."""
    connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt", seconds_left=HOUR)
    uid = user_id(configured, "alice")
    redis = configured.extensions["aperture_host"].redis
    lock = redis.lock(tokens.LOCK_KEY.format(user_id=uid), timeout=30)
    assert lock.acquire(blocking=False)
    answer: list[str] = []
    waiting = threading.Thread(target=lambda: answer.append(token_for(configured, "alice")))
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive() and answer == []  # blocked on the lock
    replaced = trakt_oauth.TokenPair.from_response(sandbox.issue_tokens("alice_on_trakt"))
    with configured.app_context():  # what the lock holder does: store the new pair
        tokens.store().update_tokens(tokens.store().get(uid), replaced)
    lock.release()
    waiting.join(10)
    assert answer == [replaced.access_token]
    assert sandbox.requests(path="/oauth/token") == []


def test_a_token_trakt_rejected_is_refreshed_even_if_it_looks_fresh(configured, sandbox):
    conn = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    fresh = token_for(configured, "alice", rejected=conn.access_token)
    assert fresh != conn.access_token
    # Someone else already replaced the rejected token: theirs is used, no new refresh.
    assert token_for(configured, "alice", rejected=conn.access_token) == fresh
    assert len(sandbox.requests(path="/oauth/token")) == 1


def test_a_401_refreshes_once_and_retries(configured, sandbox):
    conn = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    sandbox.fault("GET", LAST_ACTIVITIES, 401, body={"error": "invalid_token"})
    activities = last_activities_as(configured, "alice")
    assert "all" in activities
    assert [r["status"] for r in sandbox.requests(path=LAST_ACTIVITIES)] == [401, 200]
    assert len(sandbox.requests(path="/oauth/token")) == 1
    assert connection(configured, "alice").access_token != conn.access_token


def test_a_second_401_with_a_fresh_token_marks_the_connection(configured, sandbox):
    connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    sandbox.fault("GET", LAST_ACTIVITIES, 401, count=2)
    with pytest.raises(tokens.NeedsReconnect):
        last_activities_as(configured, "alice")
    assert len(sandbox.requests(path=LAST_ACTIVITIES)) == 2
    assert connection(configured, "alice").needs_reconnect


@pytest.mark.parametrize("legacy", [False, True], ids=["400 now", "401 legacy host"])
def test_invalid_grant_on_refresh_means_needs_reconnecting(
    configured, sandbox, sandbox_server, host_client, login, legacy
):
    conn = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt", seconds_left=HOUR)
    spend_refresh_token(sandbox, conn)
    sandbox.clear_requests()
    with (
        sandbox_settings(sandbox_server, SANDBOX_LEGACY_OAUTH_ERRORS=legacy),
        pytest.raises(tokens.NeedsReconnect),
    ):
        token_for(configured, "alice")
    [refresh] = sandbox.requests(path="/oauth/token")
    assert refresh["status"] == (401 if legacy else 400)

    marked = connection(configured, "alice")
    assert marked.needs_reconnect and marked.reconnect_reason == tokens.MSG_NEEDS_RECONNECT
    [row] = status_json(configured, "--user", "alice")
    assert row["needs_reconnect"] is True and row["last_error"] == tokens.MSG_NEEDS_RECONNECT

    login(host_client, "alice")
    html = page(host_client)
    assert card_state(html) == "reconnect"
    assert tokens.MSG_NEEDS_RECONNECT in text_of(html, "trakt-reconnect-reason")
    assert (
        'data-trakt-connect="/plugins/trakt/connect?next=/settings/profile" '
        'id="trakt-reconnect"' in html
    )

    # Scheduled work skips alice without asking Trakt, and no second refresh is tried.
    sandbox.clear_requests()
    skipped = sync(configured, "alice")
    assert (skipped["status"], skipped["message"]) == ("skipped", "needs reconnecting")
    with pytest.raises(tokens.NeedsReconnect):
        token_for(configured, "alice")
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    "answer",
    [
        {},  # trakt/trakt-api#888: "HTTP 400, no further detail"
        {
            "body": "<html><body><h1>400 Bad Request</h1></body></html>",
            "headers": {"Content-Type": "text/html"},
        },
        None,  # the sandbox's own dead grant, answered as #888 saw it (refresh_error=empty)
    ],
    ids=["empty-body", "html-body", "sandbox-dead-grant"],
)
def test_a_400_without_an_oauth_error_on_refresh_is_a_dead_grant_not_retried(
    answer, configured, sandbox, host_client, login
):
    """Trakt refuses a dead (pre-migration) grant's refresh with a bare 400 (CONTRACT 4.4).
    Read as "Trakt is down" it was retried for ever; it is invalid_grant: the connection
    needs reconnecting, the job fails without a retry, and later runs skip the user."""
    conn = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt", seconds_left=HOUR)
    uid = user_id(configured, "alice")
    trakt_queue(configured).empty()  # the first sync and refresh the connection queued
    if answer is None:
        spend_refresh_token(sandbox, conn)
        sandbox.set_behaviour(refresh_error="empty")
    else:
        sandbox.fault("POST", "/oauth/token", 400, count=-1, **answer)
    sandbox.clear_requests()
    with configured.app_context():
        job_id = jobs.enqueue_user_sync(uid, "test")
    run_trakt_jobs(configured)

    job = Job.fetch(job_id, connection=configured.extensions["aperture_host"].redis)
    assert job.get_status() == JobStatus.FAILED
    with configured.app_context():
        assert retries.scheduled_at([job_id]) == {}
    assert [r["status"] for r in sandbox.requests(path="/oauth/token")] == [400]
    marked = connection(configured, "alice")
    assert marked.needs_reconnect and marked.reconnect_reason == tokens.MSG_NEEDS_RECONNECT
    login(host_client, "alice")
    html = page(host_client)
    assert card_state(html) == "reconnect"
    assert tokens.MSG_NEEDS_RECONNECT in text_of(html, "trakt-reconnect-reason")
    assert text_of(html, "trakt-reconnect-help") == MSG_RECONNECT_HELP
    assert 'id="trakt-reconnect"' in html

    sandbox.clear_requests()  # no retry loop: the next run does not even ask Trakt
    assert sync(configured, "alice")["status"] == "skipped"
    assert sandbox.requests() == []


def test_a_400_without_an_oauth_error_on_the_code_exchange_says_connect_again(
    configured, sandbox, host_client, login
):
    login(host_client, "alice")
    query = authorize_at_sandbox(start_web_connect(host_client, PROFILE), "alice_on_trakt")
    sandbox.fault("POST", "/oauth/token", 400)
    result = finish_web_connect(host_client, query)
    assert 'data-ok="no"' in result, result
    assert trakt_oauth.MSG_GRANT_GONE_400.format(what="Connecting to Trakt") in result
    assert connection(configured, "alice") is None


@pytest.mark.parametrize("edge", ["cloudflare-403", "cloudflare-429"])
def test_the_edge_in_front_of_the_token_endpoint_is_no_dead_grant_and_no_bad_credentials(
    edge, configured, sandbox
):
    """Cloudflare's pages on a refresh: the firewall's 403 and its rate limit are passing
    faults (retried, the 429 after its Retry-After), never invalid_client or
    invalid_grant; once they lift, the same pair refreshes."""
    old = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt", seconds_left=HOUR)
    if edge == "cloudflare-403":
        sandbox.cloudflare_403("POST", "/oauth/token")
    else:
        sandbox.cloudflare_429("POST", "/oauth/token", retry_after=300)
    with pytest.raises(FirewallBlocked if edge == "cloudflare-403" else RateLimited) as caught:
        token_for(configured, "alice")
    assert caught.value.retryable
    if edge == "cloudflare-403":
        assert re.match(
            re.escape(
                "Refreshing the Trakt token: Trakt's firewall (Cloudflare) blocked this request"
            )
            + RAY_ID_NOTE,
            str(caught.value),
        )
        assert re.fullmatch("[0-9a-f]{16}", caught.value.ray_id or ""), caught.value.ray_id
    else:
        assert caught.value.retry_after == 300
    conn = connection(configured, "alice")
    assert not conn.needs_reconnect and conn.refresh_token == old.refresh_token
    with configured.app_context():
        assert configured.extensions["aperture_trakt"].settings.credentials_problem() is None
    assert token_for(configured, "alice") != old.access_token


def test_no_token_call_sends_http_basic_or_a_form_body(
    configured, sandbox, sandbox_server, host_client, login
):
    """Trakt's auth server takes the credentials in a JSON body and refuses HTTP Basic
    (CONTRACT 4.2), while Authlib sends a form with Basic unless told otherwise: every
    POST of the plugin to /oauth/* is looked at as it arrives."""
    login(host_client, "alice")
    with oauth_requests_seen(sandbox_server) as seen:
        configure_trakt(configured, sandbox)  # the credentials check's token probe
        query = authorize_at_sandbox(start_web_connect(host_client, PROFILE), "alice_on_trakt")
        assert 'data-ok="yes"' in finish_web_connect(host_client, query)  # code exchange
        connect_with_tokens(configured, sandbox, "bob", "bob_on_trakt", seconds_left=HOUR)
        token_for(configured, "bob")  # a refresh
        with configured.app_context():
            code = oauth.start_device_flow()
            assert oauth.poll_device_token(code.device_code).status == device_flow.DEVICE_PENDING
            assert connections.disconnect(user_id(configured, "bob"))  # revoke
    plugin_calls = {"/oauth/token", "/oauth/revoke", "/oauth/device/code", "/oauth/device/token"}
    posts = [r for r in seen if r["method"] == "POST" and r["path"] in plugin_calls]
    assert {r["path"] for r in posts} == plugin_calls, seen
    assert len([r for r in posts if r["path"] == "/oauth/token"]) == 3, posts
    assert all(r["content_type"].startswith("application/json") for r in posts), posts
    assert [r for r in posts if r["authorization"]] == [], posts


def test_a_free_account_connecting_another_app_finds_this_one_needs_reconnecting(
    configured, sandbox, host_client, login
):
    """A free Trakt account keeps one connected community app (CONTRACT 4.1); with Trakt
    revoking the older grant (as one client author saw), this server's access dies: the
    card says reconnect, and why it may have happened."""
    sandbox.set_behaviour(app_limit="revoke")
    connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    sandbox.add_app("another-app", "another-secret", CALLBACK_URL)
    query = authorize_at_sandbox(
        f"{sandbox.url}/oauth/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": "another-app",
                "redirect_uri": CALLBACK_URL,
                "state": "elsewhere",
            }
        ),
        "alice_on_trakt",
    )  # alice connects another app on Trakt
    assert query.get("code"), query
    with pytest.raises(tokens.NeedsReconnect):
        last_activities_as(configured, "alice")
    assert connection(configured, "alice").needs_reconnect
    login(host_client, "alice")
    html = page(host_client)
    assert card_state(html) == "reconnect"
    assert text_of(html, "trakt-reconnect-help") == MSG_RECONNECT_HELP
    assert "free Trakt account" in MSG_RECONNECT_HELP


def test_reconnecting_clears_the_mark_and_syncing_resumes(configured, sandbox, host_client, login):
    connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    with configured.app_context():
        tokens.store().mark_needs_reauth(user_id(configured, "alice"), "grant revoked")
    login(host_client, "alice")
    assert card_state(page(host_client)) == "reconnect"

    query = authorize_at_sandbox(start_web_connect(host_client, PROFILE), "alice_on_trakt")
    assert 'data-ok="yes"' in finish_web_connect(host_client, query)
    conn = connection(configured, "alice")
    assert not conn.needs_reconnect and conn.reconnect_reason is None
    assert card_state(page(host_client)) == "connected"
    assert sync(configured, "alice")["status"] == "synced"
    assert connection(configured, "alice").last_sync_at is not None


def test_device_only_servers_offer_reconnecting_with_a_code(host_app, sandbox, host_client, login):
    configure_trakt(host_app, sandbox, redirect_uri=OOB_REDIRECT_URI)
    connect_with_tokens(host_app, sandbox, "alice", "alice_on_trakt")
    with host_app.app_context():
        tokens.store().mark_needs_reauth(user_id(host_app, "alice"), "grant revoked")
    login(host_client, "alice")
    assert 'data-trakt-device-start id="trakt-reconnect"' in page(host_client)


def test_sync_records_success_and_failure(configured, sandbox):
    uid = user_id(configured, "alice")
    skipped = sync(configured, "alice")
    assert (skipped["user_id"], skipped["message"]) == (uid, "not connected")
    connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    assert sync(configured, "alice")["status"] == "synced"
    synced = connection(configured, "alice")
    assert synced.last_sync_at is not None and synced.last_error is None

    sandbox.fault("GET", LAST_ACTIVITIES, 502, count=3)  # one more than quick retries
    with pytest.raises(TraktServerError):
        sync(configured, "alice")
    failed = connection(configured, "alice")
    assert failed.last_error.startswith("GET /sync/last_activities: Trakt is having trouble")
    assert failed.last_sync_at == synced.last_sync_at and not failed.needs_reconnect


def test_status_lists_every_connection_without_tokens(configured, sandbox):
    alice = connect_with_tokens(configured, sandbox, "alice", "alice_on_trakt")
    bob = connect_with_tokens(configured, sandbox, "bob", "bob_on_trakt")
    with configured.app_context():
        tokens.store().mark_needs_reauth(user_id(configured, "bob"), "grant revoked")
    sync(configured, "alice")
    rows = status_json(configured)
    assert [(r["user"], r["trakt_username"], r["needs_reconnect"]) for r in rows] == [
        ("alice", "alice_on_trakt", False),
        ("bob", "bob_on_trakt", True),
    ]
    assert rows[0]["last_sync_at"] and rows[0]["connected_since"]
    assert rows[1]["last_error"] == "grant revoked"
    text = configured.test_cli_runner().invoke(args=["trakt", "status"]).output
    assert "alice: Trakt alice_on_trakt (ok); connected " in text
    assert "bob: Trakt bob_on_trakt (NEEDS RECONNECTING)" in text
    assert "last error grant revoked" in text
    for secret in (alice.access_token, alice.refresh_token, bob.access_token, bob.refresh_token):
        assert secret not in text and secret not in str(rows)
    empty = configured.test_cli_runner().invoke(args=["trakt", "status", "--user", "admin"])
    assert empty.output.strip() == "no Trakt connections for admin"

"""Disconnecting: revoke at Trakt (best effort), forget the tokens, cancel queued work,
keep every rating the host already has."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from rq.exceptions import NoSuchJobError
from rq.job import Job

from aperture_trakt_plugin.usecases import jobs
from aperture_trakt_plugin.web.connect import MSG_DISCONNECTED
from harness.services import free_port
from tests.connect_helpers import (
    DISCONNECT,
    PROFILE,
    card_state,
    configure_trakt,
    connect_with_tokens,
    connection,
    device_grant,
    page,
    profile_csrf,
    start_device,
    text_of,
    trakt_queue,
    user_id,
)

pytestmark = [pytest.mark.trakt, pytest.mark.both_databases]

REVOKE = "/oauth/revoke"


@pytest.fixture()
def alice(host_client, login, host_app, sandbox):
    """Alice, connected, with a first sync queued, a rating she made here and one that
    came from Trakt."""
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_on_trakt")
    host = host_app.extensions["aperture_host"]
    uid = user_id(host_app, "alice")
    for item_id, value, source in (("1", 7, "aperture"), ("2", 9, "trakt")):
        assert host.get_media(item_id) is not None
        host.apply_rating(uid, item_id, value, datetime.now(UTC), source)
    login(host_client, "alice")
    sandbox.clear_requests()
    return host_client


def ratings_of(host_app, name: str) -> list[tuple]:
    host = host_app.extensions["aperture_host"]
    return sorted(
        (r.media.item_id, r.value, r.rated_at, r.source)
        for r in host.list_ratings(user_id(host_app, name))
    )


def disconnect(client, csrf: str | None = None, next_url: str = PROFILE):
    data = {"next": next_url}
    if csrf != "":
        data["csrf_token"] = csrf or profile_csrf(client)
    return client.post(DISCONNECT, data=data)


def assert_disconnected(host_app, sandbox, name: str, token: str) -> None:
    """No tokens left, no queued job, and Trakt no longer honours the old token."""
    assert connection(host_app, name) is None
    for job_id in jobs.user_job_ids(user_id(host_app, name), jobs.ALL_KINDS):
        assert job_id not in trakt_queue(host_app).job_ids
        with pytest.raises(NoSuchJobError):
            Job.fetch(job_id, connection=trakt_queue(host_app).connection)
    assert sandbox.api("GET", "/users/settings", token=token).status_code == 401


def test_disconnect_revokes_forgets_cancels_and_keeps_ratings(alice, host_app, sandbox):
    token = connection(host_app, "alice").access_token
    before = ratings_of(host_app, "alice")
    assert [(item, value, source) for item, value, _, source in before] == [
        ("1", 7, "aperture"),
        ("2", 9, "trakt"),
    ]
    # The first sync, discovery's first lists, and the push of her rating.
    assert trakt_queue(host_app).count == 3

    response = disconnect(alice)
    assert response.status_code == 302 and response.headers["Location"] == PROFILE

    assert [(r["method"], r["status"]) for r in sandbox.requests(path=REVOKE)] == [("POST", 200)]
    assert_disconnected(host_app, sandbox, "alice", token)
    assert ratings_of(host_app, "alice") == before
    html = page(alice)
    assert card_state(html) == "disconnected"
    assert text_of(html, "trakt-profile-notice") == MSG_DISCONNECTED
    assert 'id="trakt-connect"' in html
    with host_app.app_context():  # a job already taken by a worker finds nothing to do
        assert jobs.sync_user(user_id(host_app, "alice"))["message"] == "not connected"


def test_a_failed_revoke_is_logged_not_shown(alice, host_app, sandbox, caplog):
    token = connection(host_app, "alice").access_token
    sandbox.fault("POST", REVOKE, 503)
    with caplog.at_level(logging.WARNING, logger="aperture_trakt_plugin"):
        disconnect(alice)
    assert connection(host_app, "alice") is None
    html = page(alice)
    assert text_of(html, "trakt-profile-notice") == MSG_DISCONNECTED
    assert "trakt-notice error" not in html
    [warning] = [
        r for r in caplog.records if r.name == "aperture_trakt_plugin.usecases.connections"
    ]
    assert warning.levelno == logging.WARNING
    assert "revoking the Trakt token" in warning.getMessage()
    assert token not in caplog.text
    # Trakt never heard of the revoke, so the token still works there until it expires.
    assert sandbox.api("GET", "/users/settings", token=token).status_code == 200


def test_an_unreachable_trakt_does_not_block_disconnecting(alice, host_app):
    host_app.config["APERTURE_TRAKT_AUTH_URL"] = f"http://127.0.0.1:{free_port()}"
    disconnect(alice)
    assert connection(host_app, "alice") is None
    assert text_of(page(alice), "trakt-profile-notice") == MSG_DISCONNECTED


def test_disconnect_only_redirects_within_this_server(alice):
    response = disconnect(alice, next_url="/\\evil.example")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_disconnect_needs_the_csrf_token(alice, host_app, sandbox):
    assert disconnect(alice, csrf="").status_code == 400
    assert disconnect(alice, csrf="forged").status_code == 400
    assert connection(host_app, "alice") is not None
    assert sandbox.requests(path=REVOKE) == []


def test_disconnect_stops_a_device_connection_under_way(host_client, login, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    login(host_client, "alice")
    start_device(host_client)
    disconnect(host_client)
    assert device_grant(host_app, "alice") is None
    assert card_state(page(host_client)) == "disconnected"
    assert sandbox.requests(path=REVOKE) == []  # there was no token to revoke


def test_cli_disconnect_does_the_same(alice, host_app, sandbox):
    token = connection(host_app, "alice").access_token
    before = ratings_of(host_app, "alice")
    runner = host_app.test_cli_runner()
    result = runner.invoke(args=["trakt", "disconnect", "--user", "alice"])
    assert result.exit_code == 0
    assert result.output.strip() == (
        "alice: disconnected from Trakt; ratings on this server are kept"
    )
    assert len(sandbox.requests(path=REVOKE)) == 1
    assert_disconnected(host_app, sandbox, "alice", token)
    assert ratings_of(host_app, "alice") == before
    again = runner.invoke(args=["trakt", "disconnect", "--user", "alice"])
    assert again.output.strip() == "alice: was not connected to Trakt"
    assert runner.invoke(args=["trakt", "disconnect", "--user", "nobody"]).exit_code == 1

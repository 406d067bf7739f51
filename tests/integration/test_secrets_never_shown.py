"""Tokens, the client secret, device codes and authorization codes never reach a log line,
a page, a JSON answer, a session cookie or a terminal, across a whole connection's life:
admin setup, connecting in the popup and with a code, syncing, a refresh, status,
disconnecting (one revoke failing, so its warning is logged too)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
from flask import request_finished

from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEVICE_POLL,
    authorize_at_sandbox,
    configure_trakt,
    connection,
    device_grant,
    finish_web_connect,
    let_poll_interval_pass,
    page,
    post_json,
    run_trakt_jobs,
    start_device,
    start_web_connect,
    user_id,
)
from tests.fixtures_host import csrf_token_from, login_as

pytestmark = [pytest.mark.trakt]

ADMIN_PAGE = "/admin/settings/integrations"


@pytest.fixture()
def served(host_app) -> Iterator[list[str]]:
    """Everything the host sends back to any client: status line, headers, body, and the
    decoded session cookie (Flask's session is signed, not encrypted)."""
    serializer = host_app.session_interface.get_signing_serializer(host_app)
    cookie = host_app.config["SESSION_COOKIE_NAME"]
    seen: list[str] = []

    def record(sender, response, **extra) -> None:
        seen.append(f"{response.status}\n{response.headers}\n{response.get_data(as_text=True)}")
        for header in response.headers.getlist("Set-Cookie"):
            match = re.match(rf"{cookie}=([^;]*)", header)
            if match and match.group(1):
                seen.append(json.dumps(serializer.loads(match.group(1))))

    request_finished.connect(record, host_app)
    yield seen
    request_finished.disconnect(record, host_app)


def admin_saves_credentials(client) -> None:
    login_as(client, "admin")
    token = csrf_token_from(client.get(ADMIN_PAGE).get_data(as_text=True))
    client.post(
        "/plugins/trakt/admin/settings",
        data={
            "csrf_token": token,
            "next": ADMIN_PAGE,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": "",
        },
    )
    assert "Trakt accepted" in page(client, ADMIN_PAGE)


def tokens_of(host_app, name: str) -> list[str]:
    conn = connection(host_app, name)
    return [conn.access_token, conn.refresh_token]


def test_no_secret_is_ever_logged_or_served(host_app, sandbox, served, caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records
    secrets: dict[str, str] = {"client secret": CLIENT_SECRET}
    configure_trakt(host_app, sandbox)  # registers the callback at the sandbox
    admin_saves_credentials(host_app.test_client())

    alice = host_app.test_client()
    login_as(alice, "alice")
    page(alice)
    query = authorize_at_sandbox(start_web_connect(alice), "alice_on_trakt")
    secrets["authorization code"] = query["code"]
    assert 'data-ok="yes"' in finish_web_connect(alice, query)
    page(alice)
    secrets["alice's first access token"], secrets["alice's first refresh token"] = tokens_of(
        host_app, "alice"
    )

    run_trakt_jobs(host_app)  # the first sync
    sandbox.fault("GET", "/sync/last_activities", 401)  # the next sync must refresh
    with host_app.app_context():
        jobs.enqueue_user_sync(user_id(host_app, "alice"), "again")
    run_trakt_jobs(host_app)
    secrets["alice's second access token"], secrets["alice's second refresh token"] = tokens_of(
        host_app, "alice"
    )
    assert secrets["alice's second access token"] != secrets["alice's first access token"]

    bob = host_app.test_client()
    login_as(bob, "bob")
    started = start_device(bob)
    secrets["device code"] = device_grant(host_app, "bob").device_code
    page(bob)
    let_poll_interval_pass(host_app, sandbox, "bob")
    post_json(bob, DEVICE_POLL)
    sandbox.approve_device(started["user_code"], "bob_on_trakt")
    let_poll_interval_pass(host_app, sandbox, "bob")
    assert post_json(bob, DEVICE_POLL)[1]["status"] == "connected"
    page(bob)
    secrets["bob's access token"], secrets["bob's refresh token"] = tokens_of(host_app, "bob")

    runner = host_app.test_cli_runner()
    terminal = [
        runner.invoke(args=["trakt", "status"]).output,
        runner.invoke(args=["trakt", "status", "--json"]).output,
        runner.invoke(args=["trakt", "settings", "show"]).output,
    ]
    alice.post(
        "/plugins/trakt/disconnect",
        data={"csrf_token": csrf_token_from(page(alice)), "next": "/settings/profile"},
    )
    page(alice)
    sandbox.fault("POST", "/oauth/revoke", 500)
    terminal.append(runner.invoke(args=["trakt", "disconnect", "--user", "bob"]).output)
    assert connection(host_app, "alice") is None and connection(host_app, "bob") is None

    logged = [caplog.text] + [f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records]
    assert any("refreshed the Trakt token" in line for line in logged)
    assert any("revoking the Trakt token of user" in line for line in logged)
    assert len(served) > 20 and len(caplog.records) > 20  # the capture saw the cycle
    for what, secret in secrets.items():
        assert secret and len(secret) >= 8, what
        for where, texts in (("logs", logged), ("responses", served), ("terminal", terminal)):
            leaks = [text for text in texts if secret in text]
            assert not leaks, f"the {what} appears in the {where}: {leaks[0][:2000]}"

"""Connecting with a device code: the profile's endpoints and ``flask trakt connect``."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from aperture_trakt_plugin.storage.models import TraktDeviceGrant
from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from aperture_trakt_plugin.trakt import device_flow
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import (
    DEVICE_POLL,
    DEVICE_START,
    RAY_ID_NOTE,
    card_state,
    configure_trakt,
    connection,
    device_grant,
    flask_command,
    let_poll_interval_pass,
    page,
    post_json,
    profile_csrf,
    sandbox_settings,
    start_device,
    status_json,
    text_of,
    trakt_queue,
    user_id,
    wait_for_output,
)

pytestmark = [pytest.mark.trakt]

TOKEN_POLLS = "/oauth/device/token"


@pytest.fixture()
def alice(host_client, login, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    login(host_client, "alice")
    return host_client


def test_start_shows_the_code_and_the_verification_url_on_the_profile(
    alice, host_app, sandbox_server
):
    started = start_device(alice)
    assert started["verification_url"] == sandbox_server.url + "/activate"
    assert len(started["user_code"]) == 8 and started["interval"] == 5
    assert started["expires_at"] and started["message"]
    assert "device_code" not in started
    html = page(alice)
    assert card_state(html) == "device"
    assert text_of(html, "trakt-device-code") == started["user_code"]
    link = f'href="{started["verification_url"]}/{started["user_code"]}"'
    assert link in html
    assert 'data-device-interval="5"' in html
    assert device_grant(host_app, "alice").device_code not in html


def test_polling_sooner_than_the_interval_does_not_ask_trakt(alice, sandbox):
    start_device(alice)
    status, body = post_json(alice, DEVICE_POLL)
    assert status == 200 and body["status"] == "pending"
    assert sandbox.requests(path=TOKEN_POLLS) == []


def test_pending_then_approved_connects_and_queues_the_first_sync(alice, host_app, sandbox):
    started = start_device(alice)
    let_poll_interval_pass(host_app, sandbox, "alice")
    status, body = post_json(alice, DEVICE_POLL)
    assert (status, body["status"]) == (200, "pending")
    assert [r["status"] for r in sandbox.requests(path=TOKEN_POLLS)] == [400]

    sandbox.approve_device(started["user_code"], "alice_on_trakt")
    let_poll_interval_pass(host_app, sandbox, "alice")
    status, body = post_json(alice, DEVICE_POLL)
    assert (status, body["status"]) == (200, "connected")
    assert body["username"] == "alice_on_trakt"
    assert body["message"] == "Connected as alice_on_trakt."

    conn = connection(host_app, "alice")
    assert conn.trakt_username == "alice_on_trakt"
    assert sandbox.api("GET", "/users/settings", token=conn.access_token).status_code == 200
    assert device_grant(host_app, "alice") is None
    assert trakt_queue(host_app).job_ids == [  # the first sync, then discovery's lists
        jobs.user_sync_job_id(user_id(host_app, "alice")),
        jobs.user_job_id("discovery", user_id(host_app, "alice")),
    ]
    html = page(alice)
    assert card_state(html) == "connected"
    assert text_of(html, "trakt-profile-notice") == "Connected as alice_on_trakt."


@pytest.mark.parametrize(
    ("decide", "status", "http"),
    [("deny_device", "denied", 418), ("expire_device", "expired", 410)],
)
def test_a_denied_or_expired_code_ends_with_a_message(
    alice, host_app, sandbox, decide, status, http
):
    started = start_device(alice)
    getattr(sandbox, decide)(started["user_code"])
    let_poll_interval_pass(host_app, sandbox, "alice")
    code, body = post_json(alice, DEVICE_POLL)
    assert (code, body["status"]) == (200, status)
    assert [r["status"] for r in sandbox.requests(path=TOKEN_POLLS)] == [http]
    assert body["message"] == next(m for s, m in device_flow.DEVICE_FINAL.values() if s == status)
    html = page(alice)
    assert card_state(html) == "disconnected"
    assert text_of(html, "trakt-profile-notice") == body["message"]
    assert connection(host_app, "alice") is None and device_grant(host_app, "alice") is None


def test_a_code_past_its_expiry_ends_without_asking_trakt(alice, host_app, sandbox):
    start_device(alice)
    with host_app.app_context():
        db = host_app.extensions["aperture_host"].db
        grant = db.session.get(TraktDeviceGrant, user_id(host_app, "alice"))
        grant.expires_at -= timedelta(seconds=601)
        db.session.commit()
    _, body = post_json(alice, DEVICE_POLL)
    assert body["status"] == "expired"
    assert sandbox.requests(path=TOKEN_POLLS) == []


def test_slow_down_lengthens_the_interval(alice, host_app, sandbox):
    start_device(alice)
    sandbox.fault("POST", TOKEN_POLLS, 429)
    let_poll_interval_pass(host_app, sandbox, "alice")
    _, body = post_json(alice, DEVICE_POLL)
    assert body["status"] == "pending" and body["interval"] == 10
    assert device_grant(host_app, "alice").interval == 10
    assert 'data-device-interval="10"' in page(alice)


def test_poll_with_nothing_under_way_says_so(alice, sandbox):
    status, body = post_json(alice, DEVICE_POLL)
    assert (status, body["status"]) == (200, "none")
    assert sandbox.requests() == []


def test_the_form_field_token_works_and_no_token_is_refused(alice, host_app):
    assert alice.post(DEVICE_START).status_code == 400
    assert device_grant(host_app, "alice") is None
    response = alice.post(DEVICE_START, data={"csrf_token": profile_csrf(alice)})
    assert response.status_code == 200 and response.get_json()["status"] == "pending"
    assert alice.post(DEVICE_POLL).status_code == 400


def test_with_the_oob_redirect_uri_the_profile_starts_the_device_flow(
    host_client, login, host_app, sandbox
):
    configure_trakt(host_app, sandbox, redirect_uri=OOB_REDIRECT_URI)
    login(host_client, "alice")
    assert 'data-trakt-device-start id="trakt-connect-device"' in page(host_client)
    started = start_device(host_client)
    assert text_of(page(host_client), "trakt-device-code") == started["user_code"]


def test_cli_connect_shows_the_code_and_waits_until_it_is_entered(
    host_app, host_config, sandbox, sandbox_server, tmp_path
):
    configure_trakt(host_app, sandbox)
    with sandbox_settings(sandbox_server, SANDBOX_DEVICE_INTERVAL=1):
        process = flask_command(
            host_app, host_config, tmp_path, "trakt", "connect", "--user", "bob"
        )
        try:
            shown = wait_for_output(process, r"open (\S+) and enter the code: (\w+)")
            assert shown.group(1) == sandbox_server.url + "/activate"
            wait_for_output(process, "Waiting for the code")
            sandbox.approve_device(shown.group(2), "bob_on_trakt")
            assert process.proc.wait(20) == 0, process.output()
        finally:
            process.stop()
    assert "bob: Connected as bob_on_trakt." in process.output()
    [row] = status_json(host_app, "--user", "bob")
    assert row["trakt_username"] == "bob_on_trakt" and row["needs_reconnect"] is False
    assert trakt_queue(host_app).job_ids == [
        jobs.user_sync_job_id(user_id(host_app, "bob")),
        jobs.user_job_id("discovery", user_id(host_app, "bob")),
    ]


def test_cli_connect_explains_what_is_missing(host_app, sandbox):
    runner = host_app.test_cli_runner()
    result = runner.invoke(args=["trakt", "connect", "--user", "alice"])
    assert result.exit_code == 1 and "an admin must enter" in result.output
    configure_trakt(host_app, sandbox)
    result = runner.invoke(args=["trakt", "connect", "--user", "nobody"])
    assert result.exit_code == 1 and "no user named 'nobody'" in result.output
    assert sandbox.requests() == []


def test_trakt_failing_to_start_is_explained_on_the_redrawn_profile(alice, host_app, sandbox):
    sandbox.fault("POST", "/oauth/device/code", 503)
    status, body = post_json(alice, DEVICE_START)
    assert status == 502 and body["status"] == "error"
    assert body["message"].startswith("Starting the device connection: Trakt is having trouble")
    assert device_grant(host_app, "alice") is None
    html = page(alice)  # what the card's script redraws after any answer
    assert card_state(html) == "disconnected"
    assert text_of(html, "trakt-profile-notice") == body["message"]


def test_a_transient_poll_failure_keeps_the_code_and_keeps_polling(alice, host_app, sandbox):
    started = start_device(alice)
    sandbox.fault("POST", TOKEN_POLLS, 503)
    let_poll_interval_pass(host_app, sandbox, "alice")
    status, body = post_json(alice, DEVICE_POLL)
    assert status == 502 and "Trakt answered 503" in body["message"]
    html = page(alice)
    assert card_state(html) == "device"
    assert text_of(html, "trakt-device-code") == started["user_code"]
    sandbox.approve_device(started["user_code"], "alice_on_trakt")
    let_poll_interval_pass(host_app, sandbox, "alice")
    assert post_json(alice, DEVICE_POLL)[1]["status"] == "connected"


def test_a_failure_after_approval_ends_the_flow_with_a_message(alice, host_app, sandbox):
    started = start_device(alice)
    sandbox.approve_device(started["user_code"], "alice_on_trakt")
    sandbox.fault("GET", "/users/settings", 500, count=-1)  # past the quick retries
    let_poll_interval_pass(host_app, sandbox, "alice")
    status, body = post_json(alice, DEVICE_POLL)
    assert status == 502 and body["message"].startswith("Reading your Trakt profile:")
    assert connection(host_app, "alice") is None and device_grant(host_app, "alice") is None
    html = page(alice)
    assert card_state(html) == "disconnected"
    assert text_of(html, "trakt-profile-notice") == body["message"]


def test_cloudflares_403_is_no_refusal_of_the_apps_credentials(alice, host_app, sandbox):
    """The firewall blocking the start or a poll says nothing about the credentials: no
    admin notice; a blocked poll keeps the code, and polling goes on once it lifts."""
    firewall = (
        re.escape("Trakt's firewall (Cloudflare) blocked this request")
        + RAY_ID_NOTE
        + re.escape("; the app's credentials were not refused")
    )
    sandbox.cloudflare_403("POST", "/oauth/device/code")
    status, body = post_json(alice, DEVICE_START)
    assert status == 502 and re.match(
        "Starting the device connection: " + firewall, body["message"]
    ), body

    started = start_device(alice)
    sandbox.cloudflare_403("POST", TOKEN_POLLS)
    let_poll_interval_pass(host_app, sandbox, "alice")
    status, body = post_json(alice, DEVICE_POLL)
    assert status == 502 and re.match("Checking the device code: " + firewall, body["message"]), (
        body
    )
    assert card_state(page(alice)) == "device"
    with host_app.app_context():
        assert host_app.extensions["aperture_trakt"].settings.credentials_problem() is None
    sandbox.approve_device(started["user_code"], "alice_on_trakt")
    let_poll_interval_pass(host_app, sandbox, "alice")
    assert post_json(alice, DEVICE_POLL)[1]["status"] == "connected"


# --- a verification_url that is not Trakt's (issue 15) --------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)//",
        "https://trakt.tv.evil.example/activate",
        "http://trakt.tv/activate",
        "https://trakt.tv@evil.example/activate",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/activate",
        42,
    ],
)
def test_a_verification_url_not_on_trakt_is_never_a_link(alice, sandbox, url):
    answer = {
        "device_code": "d" * 64,
        "user_code": "ABCD1234",
        "verification_url": url,
        "expires_in": 600,
        "interval": 5,
    }
    sandbox.fault("POST", "/oauth/device/code", 200, body=answer)
    started = start_device(alice)
    assert started["verification_url"] is None and started["user_code"] == "ABCD1234"
    html = page(alice)
    assert card_state(html) == "device"
    assert text_of(html, "trakt-device-code") == "ABCD1234"
    assert text_of(html, "trakt-device-no-link") == device_flow.MSG_DEVICE_URL_UNTRUSTED
    assert 'id="trakt-device-url"' not in html and "javascript:" not in html
    assert "evil.example" not in html


def test_trakts_own_activation_page_is_a_link(alice, sandbox):
    answer = {
        "device_code": "d" * 64,
        "user_code": "ABCD1234",
        "verification_url": "https://trakt.tv/activate",
        "expires_in": 600,
        "interval": 5,
    }
    sandbox.fault("POST", "/oauth/device/code", 200, body=answer)
    start_device(alice)
    assert 'href="https://trakt.tv/activate/ABCD1234"' in page(alice)


def test_a_stored_grant_with_a_bad_url_is_shown_without_a_link(alice, host_app):
    """A grant stored before the check: the card checks again as it renders."""
    start_device(alice)
    with host_app.app_context():
        db = host_app.extensions["aperture_host"].db
        grant = db.session.get(TraktDeviceGrant, user_id(host_app, "alice"))
        grant.verification_url = "javascript:alert(1)"
        db.session.commit()
    html = page(alice)
    assert 'id="trakt-device-url"' not in html and "javascript:" not in html
    assert text_of(html, "trakt-device-no-link") == device_flow.MSG_DEVICE_URL_UNTRUSTED


def test_a_user_code_that_is_not_a_code_is_refused(alice, sandbox):
    answer = {
        "device_code": "d" * 64,
        "user_code": "<b>" + "x" * 40,
        "verification_url": "https://trakt.tv/activate",
        "expires_in": 600,
        "interval": 5,
    }
    sandbox.fault("POST", "/oauth/device/code", 200, body=answer)
    status, body = post_json(alice, DEVICE_START)
    assert status == 502 and body["message"] == device_flow.MSG_DEVICE_CODE_INCOMPLETE


# --- the poll throttle holds under concurrent polls (issue 15) ------------------------


@pytest.mark.both_databases
def test_concurrent_polls_ask_trakt_once_per_interval(alice, host_app, sandbox, database):
    import threading

    from tests.fixtures_host import login_as

    start_device(alice)
    clients = []
    for _ in range(4):  # four tabs of alice's profile, polling at the same moment
        client = host_app.test_client()
        login_as(client, "alice")
        clients.append((client, profile_csrf(client)))
    let_poll_interval_pass(host_app, sandbox, "alice")
    # Trakt answers slowly, so every poll is in flight before the first one is back.
    sandbox.fault("POST", TOKEN_POLLS, delay_ms=400, count=-1)
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, str]] = []

    def poll(client, csrf):
        barrier.wait()
        status, body = post_json(client, DEVICE_POLL, csrf)
        answers.append((status, body.get("status")))

    threads = [threading.Thread(target=poll, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sandbox.clear_faults()
    assert sorted(answers) == [(200, "pending")] * len(clients)
    assert [r["status"] for r in sandbox.requests(path=TOKEN_POLLS)] == [400]
    grant = device_grant(host_app, "alice")
    assert grant.interval == 5  # nobody earned a "slow down"

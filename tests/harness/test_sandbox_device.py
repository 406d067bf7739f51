"""The device flow over real HTTP: every documented polling status (CONTRACT 4.6)."""

from __future__ import annotations

import pytest
import requests

from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl

UA = {"User-Agent": "sandbox-device-tests/1.0"}
CLIENT = {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}


def new_code(sandbox: SandboxControl) -> dict:
    answer = requests.post(
        f"{sandbox.url}/oauth/device/code",
        headers=UA,
        timeout=10,
        json={"client_id": "sandbox-client-id"},
    )
    assert answer.status_code == 200
    return answer.json()


def poll(sandbox: SandboxControl, device_code: str) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/oauth/device/token",
        headers=UA,
        timeout=10,
        json={"code": device_code, **CLIENT},
    )


@pytest.fixture()
def code(sandbox: SandboxControl) -> dict:
    return new_code(sandbox)


def test_code_answer_is_shaped_like_trakts(sandbox, code):
    assert set(code) == {"device_code", "user_code", "verification_url", "expires_in", "interval"}
    assert code["verification_url"] == f"{sandbox.url}/activate"
    assert code["expires_in"] == 600 and code["interval"] == 5
    assert len(code["user_code"]) == 8


def test_pending_is_400_with_an_empty_body_then_approval_gives_tokens(sandbox, code):
    pending = poll(sandbox, code["device_code"])
    assert pending.status_code == 400 and pending.content == b""
    sandbox.approve_device(code["user_code"], "dora")
    sandbox.advance_clock(5)
    answer = poll(sandbox, code["device_code"])
    assert answer.status_code == 200
    token = answer.json()
    assert {"access_token", "refresh_token", "expires_in", "created_at"} <= set(token)
    me = sandbox.api("GET", "/users/settings", token["access_token"]).json()
    assert me["user"]["username"] == "dora"
    sandbox.advance_clock(5)
    assert poll(sandbox, code["device_code"]).status_code == 409


def test_polling_faster_than_the_interval_is_429(sandbox, code):
    assert poll(sandbox, code["device_code"]).status_code == 400
    assert poll(sandbox, code["device_code"]).status_code == 429
    sandbox.advance_clock(5)
    assert poll(sandbox, code["device_code"]).status_code == 400


def test_unknown_code_is_404(sandbox):
    assert poll(sandbox, "0" * 64).status_code == 404


def test_expired_code_is_410(sandbox, code):
    sandbox.advance_clock(601)
    assert poll(sandbox, code["device_code"]).status_code == 410


def test_the_expire_hook_expires_at_once(sandbox, code):
    sandbox.expire_device(code["user_code"])
    assert poll(sandbox, code["device_code"]).status_code == 410


def test_denied_code_is_418(sandbox, code):
    sandbox.deny_device(code["user_code"])
    assert poll(sandbox, code["device_code"]).status_code == 418


def test_unknown_client_is_invalid_client(sandbox):
    answer = requests.post(
        f"{sandbox.url}/oauth/device/code", headers=UA, timeout=10, json={"client_id": "nobody"}
    )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_activate_page_approves_for_the_signed_in_user(sandbox, code):
    browser = requests.Session()
    browser.headers.update(UA)
    login_form = browser.get(f"{sandbox.url}/activate/{code['user_code']}")
    assert 'id="login"' in login_form.text
    page = browser.post(
        f"{sandbox.url}/oauth/login",
        data={"username": "erin", "next": f"/activate/{code['user_code']}"},
    )
    assert f'value="{code["user_code"]}"' in page.text and 'id="approve"' in page.text
    done = browser.post(
        f"{sandbox.url}/activate", data={"user_code": code["user_code"], "decision": "approve"}
    )
    assert done.status_code == 200 and "Device connected" in done.text
    token = poll(sandbox, code["device_code"]).json()
    assert (
        sandbox.api("GET", "/users/settings", token["access_token"]).json()["user"]["username"]
        == "erin"
    )


def test_activate_page_deny(sandbox, code):
    browser = requests.Session()
    browser.headers.update(UA)
    browser.get(f"{sandbox.url}/_sandbox/login", params={"username": "erin"})
    browser.post(
        f"{sandbox.url}/activate", data={"user_code": code["user_code"], "decision": "deny"}
    )
    assert poll(sandbox, code["device_code"]).status_code == 418


def test_interval_and_lifetime_are_configurable():
    client = create_app({"SANDBOX_DEVICE_INTERVAL": 1, "SANDBOX_DEVICE_TTL": 30}).test_client()
    answer = client.post("/oauth/device/code", headers=UA, json={"client_id": "sandbox-client-id"})
    assert answer.json["interval"] == 1 and answer.json["expires_in"] == 30

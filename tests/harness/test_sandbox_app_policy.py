"""App policy of 2026 (CONTRACT 4.1, checklist 16): deleted apps, one community app per
free account, and what a revoked grant then gets."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from harness.trakt_sandbox.control_client import SandboxControl, SandboxError

FIRST, SECOND = ("first-app", "first-secret"), ("second-app", "second-secret")
CALLBACK = "https://host.example.test/cb"
UA = {"User-Agent": "sandbox-app-policy-tests/1.0"}


@pytest.fixture()
def apps(sandbox: SandboxControl) -> SandboxControl:
    for client_id, secret in (FIRST, SECOND):
        sandbox.add_app(client_id, secret, [CALLBACK])
    sandbox.add_user("fran")
    return sandbox


def consent(sandbox: SandboxControl, client_id: str, username: str = "fran") -> dict:
    """Approve ``client_id`` on the consent page as ``username``: the redirect's query."""
    browser = requests.Session()
    browser.headers.update(UA)
    browser.get(f"{sandbox.url}/_sandbox/login", params={"username": username})
    answer = browser.post(
        f"{sandbox.url}/oauth/authorize",
        allow_redirects=False,
        data={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "state": "s",
            "decision": "approve",
        },
    )
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["Location"]).query)


def connect(sandbox: SandboxControl, app: tuple[str, str]) -> dict:
    """The whole code flow for one app; its token pair."""
    code = consent(sandbox, app[0])["code"][0]
    answer = requests.post(
        f"{sandbox.url}/oauth/token",
        headers=UA,
        timeout=10,
        json={
            "code": code,
            "client_id": app[0],
            "client_secret": app[1],
            "redirect_uri": CALLBACK,
            "grant_type": "authorization_code",
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(sandbox: SandboxControl, app: tuple[str, str], token: dict) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/oauth/token",
        headers=UA,
        timeout=10,
        json={
            "refresh_token": token["refresh_token"],
            "client_id": app[0],
            "client_secret": app[1],
            "redirect_uri": CALLBACK,
            "grant_type": "refresh_token",
        },
    )


def test_a_deleted_app_gets_403_on_the_api_and_invalid_client_on_tokens(apps):
    token = connect(apps, FIRST)
    assert (
        apps.api("GET", "/sync/ratings", token["access_token"], client_id=FIRST[0]).status_code
        == 200
    )
    apps.delete_app(FIRST[0])
    refused = apps.api("GET", "/sync/ratings", token["access_token"], client_id=FIRST[0])
    assert refused.status_code == 403
    assert refused.headers["Content-Type"].startswith("application/json")
    assert refused.headers["x-request-id"], "the application's 403, not Cloudflare's"
    answer = refresh(apps, FIRST, token)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    with pytest.raises(SandboxError, match="no app"):
        apps.delete_app(FIRST[0])


def test_a_free_account_cannot_authorize_a_second_app_by_default(apps):
    first = connect(apps, FIRST)
    refused = consent(apps, SECOND[0])
    assert refused["error"] == ["access_denied"] and refused["state"] == ["s"]
    assert "limit" in refused["error_description"][0]
    assert (
        apps.api("GET", "/sync/ratings", first["access_token"], client_id=FIRST[0]).status_code
        == 200
    ), "the first grant keeps working"
    assert "code" in consent(apps, FIRST[0]), "re-authorizing the connected app is fine"


def test_revoke_mode_connects_the_second_app_and_kills_the_first_grant(apps):
    apps.set_behaviour(app_limit="revoke")
    first = connect(apps, FIRST)
    second = connect(apps, SECOND)
    dead = apps.api("GET", "/sync/ratings", first["access_token"], client_id=FIRST[0])
    assert dead.status_code == 401
    answer = refresh(apps, FIRST, first)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert (
        apps.api("GET", "/sync/ratings", second["access_token"], client_id=SECOND[0]).status_code
        == 200
    )


def test_vip_and_official_apps_are_not_held_to_one(apps):
    apps.issue_tokens("fran")  # the built-in app is an official one: it does not count
    connect(apps, FIRST)
    apps.update_user("fran", vip=True)
    connect(apps, SECOND)
    apps.update_user("fran", vip=False)
    apps.set_account_limits(apps={"free": 2})
    apps.add_app("third-app", "third-secret", [CALLBACK])
    assert consent(apps, "third-app")["error"] == ["access_denied"]


def test_device_approval_past_the_cap_denies_the_code(apps):
    connect(apps, FIRST)
    codes = requests.post(
        f"{apps.url}/oauth/device/code", headers=UA, timeout=10, json={"client_id": SECOND[0]}
    ).json()
    with pytest.raises(SandboxError, match="limit of connected apps"):
        apps.approve_device(codes["user_code"], "fran")
    poll = requests.post(
        f"{apps.url}/oauth/device/token",
        headers=UA,
        timeout=10,
        json={"code": codes["device_code"], "client_id": SECOND[0], "client_secret": SECOND[1]},
    )
    assert poll.status_code == 418

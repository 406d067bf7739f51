"""Two kinds of 403 (CONTRACT 2, 10 "Telling the two 403s apart"; checklist 15).

Trakt's application answers in JSON and adds ``x-request-id`` and ``x-runtime`` to all
it says; Cloudflare's pages are HTML with ``Server: cloudflare`` and ``CF-RAY`` and
lack those two. Served on a missing User-Agent, through fault presets and behind the
``firewall`` switch.
"""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlsplit

import pytest
import requests

from harness.trakt_sandbox.control_client import SandboxControl, SandboxError, api_headers

RAY = re.compile(r"^[0-9a-f]{16}-[A-Z]{3}$")
APP_HEADERS = ("x-request-id", "x-runtime")


def assert_cloudflare(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Server"] == "cloudflare"
    ray = answer.headers["CF-RAY"]
    assert RAY.match(ray), ray
    assert ray in answer.text, "the page names its Ray ID"
    assert not set(APP_HEADERS) & {k.lower() for k in answer.headers}
    assert "X-Ratelimit" not in answer.headers


def assert_application(answer: requests.Response) -> None:
    assert answer.headers["x-request-id"]
    assert float(answer.headers["x-runtime"]) >= 0
    assert answer.headers.get("Server") != "cloudflare"


def test_the_applications_answers_carry_request_id_and_runtime(sandbox):
    token = sandbox.issue_tokens("ana")["access_token"]
    answers = [
        sandbox.api("GET", "/movies/trending"),
        sandbox.api("GET", "/sync/ratings", token),
        sandbox.api("GET", "/sync/ratings"),
        sandbox.api("GET", "/no/such/route"),
        requests.post(
            f"{sandbox.url}/oauth/token", json={}, timeout=10, headers={"User-Agent": "t/1"}
        ),
    ]
    for answer in answers:
        assert_application(answer)
    ids = {answer.headers["x-request-id"] for answer in answers}
    assert len(ids) == len(answers), "one id per request"


def test_a_bad_or_unknown_key_is_the_applications_json_403(sandbox):
    answer = sandbox.api("GET", "/movies/trending", client_id="deleted-app")
    assert answer.status_code == 403
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == "forbidden"
    assert_application(answer)


def test_missing_user_agent_gets_the_cloudflare_block(sandbox):
    headers = {k: v for k, v in api_headers().items() if k != "User-Agent"}
    connection = http.client.HTTPConnection(urlsplit(sandbox.url).netloc, timeout=10)
    connection.request("GET", "/movies/trending", headers=headers)
    answer = connection.getresponse()
    body = answer.read().decode()
    connection.close()
    assert answer.status == 403 and answer.getheader("Server") == "cloudflare"
    assert RAY.match(answer.getheader("CF-RAY"))
    assert "Sorry, you have been blocked" in body and answer.getheader("CF-RAY") in body
    assert answer.getheader("x-request-id") is None and answer.getheader("x-runtime") is None


def test_cloudflare_403_preset(sandbox):
    sandbox.cloudflare_403("*", "/sync/.*", count=2)
    token = sandbox.issue_tokens("ana")["access_token"]
    first = sandbox.api("GET", "/sync/ratings", token)
    assert_cloudflare(first, 403)
    assert "Sorry, you have been blocked" in first.text
    assert_cloudflare(sandbox.api("POST", "/sync/ratings", token, json={}), 403)
    assert sandbox.api("GET", "/sync/ratings", token).status_code == 200, "count spent"


def test_cloudflare_429_preset(sandbox):
    sandbox.fault("GET", "/movies/popular", preset="cloudflare-429")
    answer = sandbox.api("GET", "/movies/popular")
    assert_cloudflare(answer, 429)
    assert answer.headers["Retry-After"] == "300"
    sandbox.cloudflare_429("GET", "/movies/popular", retry_after=None)
    assert "Retry-After" not in sandbox.api("GET", "/movies/popular").headers


def test_unknown_preset_is_refused(sandbox):
    with pytest.raises(SandboxError, match="unknown preset"):
        sandbox.fault("GET", "/movies/popular", preset="cloudflare-418")


def test_firewall_blocks_every_api_and_auth_call_until_switched_off(sandbox: SandboxControl):
    token = sandbox.issue_tokens("ana")["access_token"]
    assert sandbox.set_behaviour(firewall="block-all")["firewall"] == "block-all"
    assert_cloudflare(sandbox.api("GET", "/sync/ratings", token), 403)
    assert_cloudflare(sandbox.api("GET", "/movies/trending"), 403)
    assert_cloudflare(
        requests.post(
            f"{sandbox.url}/oauth/token",
            timeout=10,
            json={
                "refresh_token": "x",
                "client_id": "sandbox-client-id",
                "grant_type": "refresh_token",
            },
            headers={"User-Agent": "t/1"},
        ),
        403,
    )
    assert sandbox.catalogue()["movies"], "the control API is not behind the firewall"
    sandbox.set_behaviour(firewall="off")
    assert sandbox.api("GET", "/sync/ratings", token).status_code == 200
    sandbox.set_behaviour(firewall="block-all")
    sandbox.reset()
    assert sandbox.api("GET", "/movies/trending").status_code == 200, "reset: firewall off"

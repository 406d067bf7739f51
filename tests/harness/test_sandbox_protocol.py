"""Cross-cutting protocol over real HTTP: required headers, paging caps, the three rate-limit
buckets, every error status of the contract, injected faults and the request log."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import requests

from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl, api_headers


def raw_get(sandbox: SandboxControl, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{sandbox.url}{path}", headers=headers, timeout=10)


# -- headers -------------------------------------------------------------------------------
def test_missing_or_unknown_api_key_is_403(sandbox):
    headers = api_headers()
    del headers["trakt-api-key"]
    assert raw_get(sandbox, "/movies/trending", headers).status_code == 403
    assert sandbox.api("GET", "/movies/trending", client_id="unknown").status_code == 403
    sandbox.add_app("other-app", "other-secret", "https://x.example.test/cb")
    assert sandbox.api("GET", "/movies/trending", client_id="other-app").status_code == 200


def test_missing_user_agent_is_cloudflares_html_403(sandbox):
    # http.client, because requests and urllib3 always add a User-Agent of their own.
    headers = {k: v for k, v in api_headers().items() if k != "User-Agent"}
    connection = http.client.HTTPConnection(urlsplit(sandbox.url).netloc, timeout=10)
    connection.request("GET", "/movies/trending", headers=headers)
    answer = connection.getresponse()
    assert answer.status == 403
    assert answer.getheader("Content-Type").startswith("text/html")
    assert b"Sorry, you have been blocked" in answer.read()
    connection.close()


def test_missing_api_version_is_400(sandbox):
    headers = api_headers()
    del headers["trakt-api-version"]
    answer = raw_get(sandbox, "/movies/trending", headers)
    assert answer.status_code == 400 and "trakt-api-version" in answer.json()["error_description"]


def test_oauth_endpoints_take_no_api_key(sandbox):
    answer = requests.post(
        f"{sandbox.url}/oauth/device/code",
        timeout=10,
        json={"client_id": "sandbox-client-id"},
        headers={"User-Agent": "t/1"},
    )
    assert answer.status_code == 200


# -- statuses --------------------------------------------------------------------------------
def test_401_without_or_with_a_bad_token(sandbox):
    assert sandbox.api("GET", "/sync/ratings").status_code == 401
    assert sandbox.api("GET", "/sync/ratings", "not-a-token").status_code == 401
    assert sandbox.api("GET", "/movies/trending", "not-a-token").status_code == 401


def test_412_for_a_body_that_is_not_json(sandbox):
    token = sandbox.issue_tokens("alice")["access_token"]
    answer = sandbox.api(
        "POST",
        "/sync/ratings",
        token,
        data="movies=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 412


def test_400_for_a_body_that_does_not_parse(sandbox):
    token = sandbox.issue_tokens("alice")["access_token"]
    assert sandbox.api("POST", "/sync/ratings", token, data="{nope").status_code == 400


def test_404_for_unknown_ids_and_routes_405_for_unknown_methods(sandbox):
    token = sandbox.issue_tokens("alice")["access_token"]
    assert sandbox.api("GET", "/movies/no-such-movie-1900").status_code == 404
    assert sandbox.api("GET", "/sync/history/movies/999999999", token).status_code == 404
    assert sandbox.api("GET", "/no/such/endpoint").status_code == 404
    assert sandbox.api("PUT", "/movies/trending", token).status_code == 405


def test_423_for_locked_and_deactivated_accounts(sandbox):
    token = sandbox.issue_tokens("lucy")["access_token"]
    sandbox.add_user("lucy", locked=True)
    answer = sandbox.api("GET", "/users/settings", token)
    assert answer.status_code == 423
    assert answer.headers["X-Account-Locked"] == "true"
    assert answer.headers["X-Account-Deactivated"] == "false"
    sandbox.add_user("lucy", locked=False, deactivated=True)
    answer = sandbox.api("GET", "/sync/ratings", token)
    assert answer.status_code == 423 and answer.headers["X-Account-Deactivated"] == "true"
    sandbox.add_user("lucy", deactivated=False)
    assert sandbox.api("GET", "/sync/ratings", token).status_code == 200


def test_users_settings_carries_the_account_limits(sandbox):
    token = sandbox.issue_tokens("alice")["access_token"]
    settings = sandbox.api("GET", "/users/settings", token).json()
    assert {"user", "account", "connections", "sharing_text", "limits"} <= set(settings)
    limits = settings["limits"]
    for group, key in [
        ("list", "count"),
        ("list", "item_count"),
        ("watchlist", "item_count"),
        ("favorites", "item_count"),
        ("recommendations", "item_count"),
    ]:
        assert isinstance(limits[group][key], int)


def test_injected_statuses_426_5xx_and_52x(sandbox):
    for status in (426, 500, 502, 503, 504, 520, 521, 522):
        sandbox.fault(
            "GET", "/movies/popular", status, headers={"X-Upgrade-URL": "https://app.trakt.tv/vip"}
        )
        assert sandbox.api("GET", "/movies/popular").status_code == status
    assert sandbox.api("GET", "/movies/popular").status_code == 200


# -- faults --------------------------------------------------------------------------------
def test_fault_counts_regexes_methods_and_bodies(sandbox):
    sandbox.fault("POST", r"/sync/ratings(/remove)?", 503, count=2, body={"error": "down"})
    token = sandbox.issue_tokens("alice")["access_token"]
    assert sandbox.api("GET", "/sync/ratings", token).status_code == 200, "method must match"
    first = sandbox.api("POST", "/sync/ratings/remove", token, json={})
    assert first.status_code == 503 and first.json() == {"error": "down"}
    sandbox.advance_clock(1)
    assert sandbox.api("POST", "/sync/ratings", token, json={}).status_code == 503
    sandbox.advance_clock(1)
    assert sandbox.api("POST", "/sync/ratings", token, json={}).status_code == 201


def test_fault_delay_then_normal_answer(sandbox):
    sandbox.fault("GET", "/movies/trending", delay_ms=300)
    started = time.monotonic()
    answer = sandbox.api("GET", "/movies/trending")
    assert answer.status_code == 200 and time.monotonic() - started >= 0.3


def test_faults_reach_oauth_endpoints(sandbox):
    sandbox.fault("POST", "/oauth/token", 502)
    answer = requests.post(
        f"{sandbox.url}/oauth/token", json={}, timeout=10, headers={"User-Agent": "t/1"}
    )
    assert answer.status_code == 502


def test_cloudflare_style_429(sandbox):
    sandbox.cloudflare_429("GET", "/movies/trending", retry_after=300)
    answer = sandbox.api("GET", "/movies/trending")
    assert answer.status_code == 429
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Retry-After"] == "300" and "X-Ratelimit" not in answer.headers


# -- rate limits ---------------------------------------------------------------------------
def test_authed_get_limit_429_with_retry_after_and_x_ratelimit(sandbox):
    sandbox.set_limits(get_per_5min=3)
    token = sandbox.issue_tokens("alice")["access_token"]
    for _ in range(3):
        assert sandbox.api("GET", "/sync/last_activities", token).status_code == 200
    refused = sandbox.api("GET", "/movies/trending", token)
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 295 <= retry_after <= 300
    limit = json.loads(refused.headers["X-Ratelimit"])
    assert limit["name"] == "AUTHED_API_GET_LIMIT" and limit["period"] == 300
    assert limit["limit"] == 3 and limit["remaining"] == 0
    assert limit["until"].endswith("Z") and len(limit["until"]) == 20
    assert "X-Ratelimit" not in sandbox.api("GET", "/movies/trending").headers, (
        "other buckets are not affected, and successes carry no X-Ratelimit"
    )
    sandbox.advance_clock(retry_after)
    assert sandbox.api("GET", "/sync/last_activities", token).status_code == 200


def test_buckets_are_per_user_and_per_client_id(sandbox):
    sandbox.set_limits(get_per_5min=1, unauthed_get_per_5min=1)
    first = sandbox.issue_tokens("alice")["access_token"]
    second = sandbox.issue_tokens("bob")["access_token"]
    assert sandbox.api("GET", "/sync/ratings", first).status_code == 200
    assert sandbox.api("GET", "/sync/ratings", first).status_code == 429
    assert sandbox.api("GET", "/sync/ratings", second).status_code == 200
    assert sandbox.api("GET", "/movies/trending").status_code == 200
    refused = sandbox.api("GET", "/movies/trending")
    assert refused.status_code == 429
    assert json.loads(refused.headers["X-Ratelimit"])["name"] == "UNAUTHED_API_GET_LIMIT"
    sandbox.add_app("app-two", "secret-two", "https://x.example.test/cb")
    assert sandbox.api("GET", "/movies/trending", client_id="app-two").status_code == 200


def test_default_limits_are_trakts():
    client = create_app().test_client()
    assert client.get("/_sandbox/limits").json == {
        "get_per_5min": 500,
        "unauthed_get_per_5min": 500,
        "writes_per_second": 1,
    }


def test_unauthed_get_limit_is_500_per_5_minutes(sandbox):
    codes = [
        sandbox.api("GET", "/movies/trending", params={"limit": 1}).status_code for _ in range(501)
    ]
    assert codes[:500] == [200] * 500 and codes[500] == 429


def test_writes_are_one_per_second_per_user(sandbox):
    token = sandbox.issue_tokens("alice")["access_token"]
    assert sandbox.api("POST", "/sync/ratings", token, json={}).status_code == 201
    refused = sandbox.api("POST", "/sync/watchlist", token, json={})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert json.loads(refused.headers["X-Ratelimit"]) | {"until": "-"} == {
        "name": "AUTHED_API_POST_LIMIT",
        "period": 1,
        "limit": 1,
        "remaining": 0,
        "until": "-",
    }
    other = sandbox.issue_tokens("bob")["access_token"]
    assert sandbox.api("POST", "/sync/ratings", other, json={}).status_code == 201
    sandbox.advance_clock(1)
    assert sandbox.api("POST", "/sync/watchlist", token, json={}).status_code == 201


# -- pagination ----------------------------------------------------------------------------
def test_paging_defaults_caps_and_past_the_end(sandbox):
    catalogue = sandbox.catalogue()
    total = len(catalogue["movies"])
    answer = sandbox.api("GET", "/movies/popular", params={"limit": 1000})
    assert answer.headers["X-Pagination-Limit"] == "250"
    assert len(answer.json()) == min(total, 250)
    assert answer.headers["X-Pagination-Item-Count"] == str(total)
    assert answer.headers["X-Pagination-Page-Count"] == str(-(-total // 250))
    second = sandbox.api("GET", "/movies/popular", params={"page": 2, "limit": 5})
    first_ten = sandbox.api("GET", "/movies/popular").json()
    assert second.json() == first_ten[5:10]
    beyond = sandbox.api("GET", "/movies/popular", params={"page": 999})
    assert beyond.json() == [] and beyond.headers["X-Pagination-Page"] == "999"


# -- request log -----------------------------------------------------------------------------
def test_request_log_records_every_api_call_oldest_first(sandbox):
    token = sandbox.issue_tokens("alice")["access_token"]
    sandbox.clear_requests()
    sandbox.api("GET", "/movies/trending", params={"limit": 2})
    sandbox.api("GET", "/sync/ratings", token)
    sandbox.api("GET", "/sync/ratings", "bad-token")
    entries = sandbox.requests()
    assert [(e["method"], e["path"], e["status"], e["user"]) for e in entries] == [
        ("GET", "/movies/trending", 200, None),
        ("GET", "/sync/ratings", 200, "alice"),
        ("GET", "/sync/ratings", 401, None),
    ]
    assert entries[0]["query"] == {"limit": "2"} and entries[0]["at"].endswith("Z")
    assert [e["status"] for e in sandbox.requests(user="alice")] == [200]
    sandbox.clear_requests()
    assert sandbox.requests() == []


def test_request_log_is_bounded():
    client = create_app({"SANDBOX_REQUEST_LOG_SIZE": 5}).test_client()
    for _ in range(8):
        client.get("/movies/trending", headers=api_headers())
    assert len(client.get("/_sandbox/requests").json) == 5

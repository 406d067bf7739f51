"""The sandbox's auth host over real HTTP: authorize pages, code exchange, PKCE, refresh
rotation, revoke, expiry, and credential checks in RFC 6749 order."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl, api_headers

CLIENT_ID, CLIENT_SECRET = "plugin-client", "plugin-secret"
CALLBACK = "https://host.example.test/plugins/trakt/callback"
UA = {"User-Agent": "sandbox-oauth-tests/1.0"}


@pytest.fixture()
def app_registered(sandbox: SandboxControl) -> SandboxControl:
    sandbox.add_app(CLIENT_ID, CLIENT_SECRET, [CALLBACK, "urn:ietf:wg:oauth:2.0:oob"])
    return sandbox


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(
    url: str, username: str = "alice", decision: str = "approve", **params: str
) -> requests.Response:
    """Drive the authorize pages as a browser would: sign in, then approve or deny."""
    browser = requests.Session()
    browser.headers.update(UA)
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "state": "xyz",
        **params,
    }
    page = browser.get(f"{url}/oauth/authorize", params=query)
    assert page.status_code == 200 and 'id="login"' in page.text
    next_url = urlsplit(page.url)._replace(scheme="", netloc="").geturl()
    consent = browser.post(f"{url}/oauth/login", data={"username": username, "next": next_url})
    assert consent.status_code == 200 and 'id="approve"' in consent.text
    assert 'id="deny"' in consent.text
    return browser.post(
        f"{url}/oauth/authorize", data={**query, "decision": decision}, allow_redirects=False
    )


def code_from(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert location.geturl().startswith(CALLBACK)
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def token_call(url: str, **body: str) -> requests.Response:
    return requests.post(f"{url}/oauth/token", json=body, headers=UA, timeout=10)


def exchange(url: str, code: str, **extra: str) -> requests.Response:
    body = {
        "code": code,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": CALLBACK,
        "grant_type": "authorization_code",
        **extra,
    }
    return token_call(url, **{k: v for k, v in body.items() if v is not None})


def settings_status(sandbox: SandboxControl, token: str) -> int:
    return sandbox.api("GET", "/users/settings", token).status_code


def test_code_flow_with_secret_gives_a_trakt_shaped_token(app_registered):
    sandbox = app_registered
    answer = exchange(sandbox.url, code_from(authorize(sandbox.url)))
    assert answer.status_code == 200
    token = answer.json()
    assert set(token) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "created_at",
    }
    assert token["token_type"] == "bearer" and token["scope"] == "public"
    assert token["expires_in"] == 604800
    assert abs(token["created_at"] - sandbox.clock()["time"]) < 5
    me = sandbox.api("GET", "/users/settings", token["access_token"]).json()
    assert me["user"]["username"] == "alice"


def test_codes_are_single_use_and_bound_to_the_redirect_uri(app_registered):
    sandbox = app_registered
    code = code_from(authorize(sandbox.url))
    wrong_uri = exchange(sandbox.url, code, redirect_uri="https://evil.example.test/cb")
    assert wrong_uri.status_code == 400 and wrong_uri.json()["error"] == "invalid_grant"
    assert exchange(sandbox.url, code).status_code == 200
    reused = exchange(sandbox.url, code)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_codes_expire(app_registered):
    sandbox = app_registered
    code = code_from(authorize(sandbox.url))
    sandbox.advance_clock(601)
    assert exchange(sandbox.url, code).json()["error"] == "invalid_grant"


def test_pkce_s256_without_a_secret(app_registered):
    sandbox = app_registered
    verifier, challenge = pkce_pair()
    code = code_from(authorize(sandbox.url, code_challenge=challenge, code_challenge_method="S256"))
    wrong = exchange(sandbox.url, code, client_secret=None, code_verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = code_from(authorize(sandbox.url, code_challenge=challenge, code_challenge_method="S256"))
    right = exchange(sandbox.url, code, client_secret=None, code_verifier=verifier)
    assert right.status_code == 200
    refreshed = token_call(
        sandbox.url,
        refresh_token=right.json()["refresh_token"],
        client_id=CLIENT_ID,
        grant_type="refresh_token",
    )
    assert refreshed.status_code == 200, "a public PKCE client refreshes without a secret"


def test_pkce_plain_is_refused_at_the_authorize_step(app_registered):
    browser = requests.Session()
    answer = browser.get(
        f"{app_registered.url}/oauth/authorize",
        headers=UA,
        allow_redirects=False,
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "state": "s1",
            "code_challenge": "abc",
            "code_challenge_method": "plain",
        },
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == ["s1"]


def test_a_code_without_pkce_needs_the_secret(app_registered):
    code = code_from(authorize(app_registered.url))
    answer = exchange(app_registered.url, code, client_secret=None)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_deny_redirects_with_access_denied(app_registered):
    answer = authorize(app_registered.url, decision="deny")
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "state": ["xyz"]}


def test_unregistered_redirect_uri_gets_an_html_error_page(app_registered):
    answer = requests.get(
        f"{app_registered.url}/oauth/authorize",
        headers=UA,
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": "https://elsewhere.example.test/cb",
        },
    )
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "doesn&#39;t match client redirect URI" in answer.text


def test_oob_shows_the_code_on_a_page(app_registered):
    browser = requests.Session()
    browser.headers.update(UA)
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
    }
    browser.get(f"{app_registered.url}/_sandbox/login", params={"username": "bob"})
    page = browser.post(
        f"{app_registered.url}/oauth/authorize", data={**query, "decision": "approve"}
    )
    assert page.status_code == 200
    code = page.text.split('<code id="code">')[1].split("</code>")[0]
    answer = exchange(app_registered.url, code, redirect_uri="urn:ietf:wg:oauth:2.0:oob")
    assert answer.status_code == 200


def test_client_is_checked_before_the_grant(app_registered):
    url = app_registered.url
    unknown = token_call(
        url,
        code="nope",
        client_id="who",
        client_secret="x",
        redirect_uri=CALLBACK,
        grant_type="authorization_code",
    )
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    wrong_secret = exchange(url, "not-a-code", client_secret="wrong")
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert "error_description" in wrong_secret.json()
    right_secret_bad_code = exchange(url, "not-a-code")
    assert right_secret_bad_code.status_code == 400
    assert right_secret_bad_code.json() == {
        "error": "invalid_grant",
        "error_description": "session not found",
    }
    no_grant = token_call(url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert no_grant.status_code == 400 and no_grant.json()["error"] == "invalid_request"


def form_exchange(url: str, code: str, basic: bool) -> requests.Response:
    """The code exchange as Authlib sends it by default: a form, credentials as Basic."""
    data = {"code": code, "redirect_uri": CALLBACK, "grant_type": "authorization_code"}
    if not basic:
        data |= {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    return requests.post(
        f"{url}/oauth/token",
        headers=UA,
        timeout=10,
        data=data,
        auth=(CLIENT_ID, CLIENT_SECRET) if basic else None,
    )


def test_strict_auth_server_refuses_http_basic_and_forms(app_registered):
    url = app_registered.url
    code = code_from(authorize(url))
    basic = form_exchange(url, code, basic=True)
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    assert "Basic" in basic.json()["error_description"]
    form = form_exchange(url, code, basic=False)
    assert form.status_code == 400 and form.json()["error"] == "invalid_request"
    assert "JSON" in form.json()["error_description"]
    json_with_basic = requests.post(
        f"{url}/oauth/token",
        headers=UA,
        timeout=10,
        auth=(CLIENT_ID, CLIENT_SECRET),
        json={"code": code, "redirect_uri": CALLBACK, "grant_type": "authorization_code"},
    )
    assert json_with_basic.status_code == 401
    assert exchange(url, code).status_code == 200, "the refusals spent nothing"


def test_strict_mode_covers_revoke_and_the_device_endpoints(app_registered):
    url = app_registered.url
    for path in ("/oauth/revoke", "/oauth/device/code", "/oauth/device/token"):
        answer = requests.post(
            f"{url}{path}",
            headers=UA,
            timeout=10,
            data={"client_id": CLIENT_ID, "token": "x", "code": "x"},
        )
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", path
        basic = requests.post(
            f"{url}{path}",
            headers=UA,
            timeout=10,
            json={"token": "x"},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        assert basic.status_code == 401 and basic.json()["error"] == "invalid_client", path


def test_lenient_mode_takes_forms_and_basic_as_authlib_sends_them(app_registered):
    app_registered.set_behaviour(oauth="lenient")
    code = code_from(authorize(app_registered.url))
    answer = form_exchange(app_registered.url, code, basic=True)
    assert answer.status_code == 200 and answer.json()["access_token"]


@pytest.mark.parametrize("form", ["json", "empty", "legacy-401"])
def test_refresh_error_forms(sandbox, form):
    sandbox.set_behaviour(refresh_error=form)
    body = {
        "refresh_token": "0" * 64,
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "grant_type": "refresh_token",
    }
    answer = token_call(sandbox.url, **body)
    if form == "json":
        assert answer.status_code == 400
        assert answer.json() == {"error": "invalid_grant", "error_description": "session not found"}
    elif form == "empty":
        assert answer.status_code == 400 and answer.content == b""
    else:
        assert answer.status_code == 401
        assert answer.json()["error_description"].startswith("The provided authorization")
        assert 'realm="Doorkeeper"' in answer.headers["WWW-Authenticate"]
    spent = sandbox.issue_tokens("alice")
    token_call(sandbox.url, **{**body, "refresh_token": spent["refresh_token"]})
    again = token_call(sandbox.url, **{**body, "refresh_token": spent["refresh_token"]})
    assert again.status_code == answer.status_code, "a spent refresh token fails the same way"
    wrong_secret = token_call(sandbox.url, **{**body, "client_secret": "wrong"})
    assert wrong_secret.json()["error"] == "invalid_client", "only invalid_grant changes form"


def test_refresh_rotates_and_a_reused_refresh_token_is_invalid_grant(sandbox):
    first = sandbox.issue_tokens("alice")
    body = {
        "refresh_token": first["refresh_token"],
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "redirect_uri": CALLBACK,
        "grant_type": "refresh_token",
    }
    second = token_call(sandbox.url, **body)
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert pair["access_token"] != first["access_token"]
    reused = token_call(sandbox.url, **body)
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_grant", "error_description": "session not found"}
    # The new pair works; the replaced access token lives until its own expiry.
    assert settings_status(sandbox, pair["access_token"]) == 200
    assert settings_status(sandbox, first["access_token"]) == 200
    third = token_call(sandbox.url, **{**body, "refresh_token": pair["refresh_token"]})
    assert third.status_code == 200


def test_legacy_mode_answers_the_doorkeeper_401():
    app = create_app({"SANDBOX_LEGACY_OAUTH_ERRORS": True})
    client = app.test_client()
    answer = client.post(
        "/oauth/token",
        headers=UA,
        json={
            "refresh_token": "spent",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
            "grant_type": "refresh_token",
        },
    )
    assert answer.status_code == 401
    assert answer.json["error"] == "invalid_grant"
    assert answer.json["error_description"].startswith("The provided authorization grant")
    assert 'realm="Doorkeeper"' in answer.headers["WWW-Authenticate"]


def test_a_token_past_its_expiry_gets_401(sandbox):
    token = sandbox.issue_tokens("alice", expires_in=60)
    assert token["expires_in"] == 60
    assert settings_status(sandbox, token["access_token"]) == 200
    sandbox.advance_clock(61)
    answer = sandbox.api("GET", "/users/settings", token["access_token"])
    assert answer.status_code == 401
    assert "WWW-Authenticate" in answer.headers


def test_token_ttl_is_configurable():
    client = create_app({"SANDBOX_TOKEN_TTL": 30}).test_client()
    answer = client.post("/_sandbox/users/alice/tokens", json={})
    assert answer.json["expires_in"] == 30
    headers = api_headers(answer.json["access_token"])
    assert client.get("/users/settings", headers=headers).status_code == 200
    client.post("/_sandbox/clock", json={"seconds": 31})
    assert client.get("/users/settings", headers=headers).status_code == 401


def test_revoke_is_always_200_and_kills_the_token(sandbox):
    token = sandbox.issue_tokens("alice")
    unknown = requests.post(
        f"{sandbox.url}/oauth/revoke",
        headers=UA,
        timeout=10,
        json={"token": "nope", "client_id": "sandbox-client-id"},
    )
    assert unknown.status_code == 200 and unknown.json() == {}
    answer = requests.post(
        f"{sandbox.url}/oauth/revoke",
        headers=UA,
        timeout=10,
        json={
            "token": token["access_token"],
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
        },
    )
    assert answer.status_code == 200 and answer.json() == {}
    assert settings_status(sandbox, token["access_token"]) == 401


def test_oauth_calls_are_logged(app_registered):
    sandbox = app_registered
    exchange(sandbox.url, "bad")
    entries = sandbox.requests(path="/oauth/token")
    assert entries[-1]["method"] == "POST" and entries[-1]["status"] == 400

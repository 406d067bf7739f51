"""The OAuth exchange through our own code, recorded once against the sandbox and replayed.

``exchange_code`` (authorization code with PKCE), ``finish_connection`` (reads
``/users/settings``), ``refresh`` and ``revoke`` run unchanged; only the transport under
them is Betamax's (``tests/recorded_http.py``). By default the cassette is replayed with
the API and auth URLs pointing at a port where nothing listens, which proves replay needs
no Trakt at all. ``BETAMAX_RECORD=1`` records it (when missing) against the sandbox and
then also checks, live, that the revoke and the rotation really happened.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from betamax.exceptions import BetamaxError

from aperture_trakt_plugin.accounts import oauth
from aperture_trakt_plugin.usecases import connections
from harness.services import free_port
from tests.recorded_http import (
    PLACEHOLDER,
    cassette_path,
    recorded_trakt,
    secrets_in,
    will_record,
)

CASSETTE = "oauth_pkce_connect_refresh_revoke"
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
PUBLIC_URL = "http://aperture.test"  # fixed, so the recorded redirect_uri never changes
REDIRECT_URI = PUBLIC_URL + "/plugins/trakt/callback"
OOB = "urn:ietf:wg:oauth:2.0:oob"
TRAKT_USER = "alice_trakt"
RECORDED_CALLS = [
    ("POST", "/oauth/token"),
    ("GET", "/users/settings"),
    ("POST", "/oauth/token"),
    ("POST", "/oauth/revoke"),
]


@pytest.fixture()
def recording() -> bool:
    return will_record(CASSETTE)


@pytest.fixture()
def trakt_url(request: pytest.FixtureRequest, recording: bool) -> str:
    """The sandbox when recording; otherwise a closed port, so any live call would fail."""
    if not recording:
        return f"http://127.0.0.1:{free_port()}"
    sandbox = request.getfixturevalue("sandbox")
    sandbox.add_app(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI, OOB])
    return sandbox.url


@pytest.fixture()
def host_config(trakt_url: str) -> dict[str, Any]:
    return {
        "APERTURE_TRAKT_API_URL": trakt_url,
        "APERTURE_TRAKT_AUTH_URL": trakt_url,
        "PUBLIC_BASE_URL": PUBLIC_URL,
    }


@pytest.fixture()
def trakt(host_app):
    """Credentials saved; the plugin's state, to mount the recorder on."""
    state = host_app.extensions["aperture_trakt"]
    with host_app.app_context():
        state.settings.save({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, None)
    return state


def approve_as_user(base_url: str, authorize_url: str) -> str:
    """What the user's browser does at Trakt: sign in, approve; the code from the redirect."""
    browser = requests.Session()
    parts = urlsplit(authorize_url)
    page = browser.get(
        f"{base_url}/_sandbox/login",
        timeout=10,
        params={"username": TRAKT_USER, "next": f"{parts.path}?{parts.query}"},
    )
    assert page.status_code == 200 and 'id="approve"' in page.text, page.text[:500]
    form = {**dict(parse_qsl(parts.query)), "decision": "approve"}
    answer = browser.post(
        f"{base_url}/oauth/authorize", data=form, timeout=10, allow_redirects=False
    )
    assert answer.status_code == 302, answer.text[:500]
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = dict(parse_qsl(location.query))
    assert query["state"] == form["state"]
    return query["code"]


def test_pkce_connect_refresh_and_revoke_replay_from_the_cassette(
    host_app, trakt, trakt_url, recording
):
    alice_id = host_app.extensions["aperture_host"].get_user_by_name("alice").id
    with (
        host_app.app_context(),
        recorded_trakt(trakt, CASSETTE, trakt_url, CLIENT_ID, CLIENT_SECRET) as cassette,
    ):
        grant = oauth.authorization_request()
        code = approve_as_user(trakt_url, grant.url) if recording else "unused-on-replay"
        pair = oauth.exchange_code(code, grant.code_verifier)
        conn = connections.finish_connection(alice_id, pair)
        assert conn.trakt_username == TRAKT_USER
        refreshed = oauth.refresh(pair.refresh_token)
        oauth.revoke(refreshed.access_token)
        calls = [
            (i.data["request"]["method"], urlsplit(i.data["request"]["uri"]).path)
            for i in cassette.interactions
        ]
        used = [i.used for i in cassette.interactions]

    assert calls == RECORDED_CALLS
    assert (pair.scope, refreshed.scope) == ("public", "public")
    assert pair.expires_at - pair.created_at == timedelta(days=7)
    assert refreshed.access_token != pair.access_token
    assert refreshed.refresh_token != pair.refresh_token
    secrets = [
        code,
        grant.code_verifier,
        pair.access_token,
        pair.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token,
    ]
    if recording:
        leaked = [s for s in secrets if s in cassette_path(CASSETTE).read_text()]
        assert not leaked, "a live secret reached the cassette file"
        check_live_effects(trakt_url, pair, refreshed)
    else:
        assert all(used), "replay skipped a recorded call"
        tokens = secrets[2:]  # what Trakt handed out is all placeholders on replay
        assert all(PLACEHOLDER.match(token) for token in tokens), tokens


def check_live_effects(base_url: str, pair, refreshed) -> None:
    """When recording: the sandbox agrees that the rotation and the revoke took place."""
    headers = {
        "trakt-api-version": "2",
        "trakt-api-key": CLIENT_ID,
        "Content-Type": "application/json",
    }
    revoked = requests.get(
        f"{base_url}/users/settings",
        timeout=10,
        headers={**headers, "Authorization": f"Bearer {refreshed.access_token}"},
    )
    assert revoked.status_code == 401
    reused = requests.post(
        f"{base_url}/oauth/token",
        timeout=10,
        json={
            "grant_type": "refresh_token",
            "refresh_token": pair.refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_replay_refuses_a_call_that_was_never_recorded(host_app, trakt, trakt_url, recording):
    """Replay mode never goes live: an unrecorded call fails instead of reaching a server."""
    if recording:
        pytest.skip("only meaningful when replaying")
    with (
        host_app.app_context(),
        recorded_trakt(trakt, CASSETTE, trakt_url, CLIENT_ID, CLIENT_SECRET),
        pytest.raises(BetamaxError, match="could not be handled"),
    ):
        oauth.start_device_flow()


def test_scrubber_finds_secrets_the_recorded_flow_does_not_carry():
    """Basic credentials, device codes, form bodies and stray hex: named for replacement."""
    hex_token = "ab" * 32
    data = {
        "request": {
            "body": {
                "encoding": "utf-8",
                "string": "grant_type=authorization_code&code_verifier=v3rif",
            },
            "headers": {"Authorization": ["Basic c2FuZGJveDpzZWNyZXQ="]},
            "uri": "<TRAKT_BASE_URL>/oauth/device/token",
        },
        "response": {
            "body": {
                "encoding": "utf-8",
                "string": json.dumps(
                    {"device_code": "dc-1", "user_code": "UC1", "nested": {"x": hex_token}}
                ),
            },
            "headers": {},
            "url": "<TRAKT_BASE_URL>/oauth/device/token",
        },
    }
    found = set(secrets_in(data))
    assert {
        ("PKCE_CODE_VERIFIER", "v3rif"),
        ("AUTH_CREDENTIALS", "c2FuZGJveDpzZWNyZXQ="),
        ("TRAKT_DEVICE_CODE", "dc-1"),
        ("TRAKT_USER_CODE", "UC1"),
        ("TRAKT_SECRET", hex_token),
    } <= found
    assert not any(PLACEHOLDER.match(value) for _, value in found)

"""The /_sandbox/ control API: reset, users, tokens, list round trips, clock, demo seed,
configuration from the environment and the pages a browser sees."""

from __future__ import annotations

import pytest

from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl, SandboxError, api_headers


def test_reset_forgets_users_tokens_faults_and_the_clock(sandbox):
    token = sandbox.issue_tokens("alice")["access_token"]
    sandbox.fault("GET", "/movies/trending", 500, count=-1)
    sandbox.advance_clock(3600)
    sandbox.api("GET", "/movies/popular")
    sandbox.reset()
    assert sandbox.requests() == []
    assert sandbox.clock()["offset"] == 0
    assert sandbox.api("GET", "/users/settings", token).status_code == 401
    assert sandbox.api("GET", "/movies/trending").status_code == 200


def test_users_get_flags(sandbox):
    assert sandbox.add_user("vera", vip=True)["vip"] is True
    token = sandbox.issue_tokens("vera")["access_token"]
    settings = sandbox.api("GET", "/users/settings", token).json()
    assert settings["user"]["vip"] is True
    assert settings["limits"]["watchlist"]["item_count"] > 100


def test_issue_tokens_for_another_app(sandbox):
    sandbox.add_app("app-two", "secret-two", ["https://two.example.test/cb"])
    token = sandbox.issue_tokens("alice", client_id="app-two")
    assert (
        sandbox.api("GET", "/sync/ratings", token["access_token"], client_id="app-two").status_code
        == 200
    )
    with pytest.raises(SandboxError):
        sandbox.issue_tokens("alice", client_id="nobody")


def test_ratings_round_trip_in_trakts_shape(sandbox):
    catalogue = sandbox.catalogue()
    film, tv = catalogue["movies"][0], catalogue["shows"][0]
    items = [
        {
            "rated_at": "2015-01-28T02:26:37.000Z",
            "rating": 8,
            "type": "movie",
            "movie": {"title": film["title"], "year": film["year"], "ids": film["ids"]},
        },
        {
            "rated_at": "2015-01-27T02:26:37.000Z",
            "rating": 6,
            "type": "episode",
            "episode": {"season": 1, "number": 2},
            "show": {"ids": {"tvdb": tv["ids"]["tvdb"]}},
        },
    ]
    stored = sandbox.set_ratings("alice", items)
    assert stored[0] == items[0]
    assert stored[1]["episode"] == tv["seasons"][0]["episodes"][1]
    token = sandbox.issue_tokens("alice")["access_token"]
    assert sandbox.api("GET", "/sync/ratings", token).json() == stored
    assert sandbox.ratings("alice") == stored


def test_put_replaces_and_moves_last_activities(sandbox):
    film = sandbox.catalogue()["movies"][0]
    before = sandbox.last_activities("alice")
    sandbox.set_watchlist("alice", [{"type": "movie", "movie": film}])
    after = sandbox.last_activities("alice")
    assert after["movies"]["watchlisted_at"] > before["movies"]["watchlisted_at"]
    assert len(sandbox.watchlist("alice")) == 1
    sandbox.set_watchlist("alice", [])
    assert sandbox.watchlist("alice") == []


def test_history_round_trip_expands_a_season(sandbox):
    tv = sandbox.catalogue()["shows"][1]
    season = tv["seasons"][0]
    sandbox.set_history(
        "alice",
        [
            {
                "watched_at": "2020-02-02T20:00:00.000Z",
                "type": "season",
                "season": {"number": 1},
                "show": tv,
            }
        ],
    )
    history = sandbox.history("alice")
    assert len(history) == len(season["episodes"])
    assert {h["type"] for h in history} == {"episode"}


def test_unknown_titles_are_refused(sandbox):
    with pytest.raises(SandboxError, match="not_found"):
        sandbox.set_ratings(
            "alice", [{"rating": 5, "type": "movie", "movie": {"ids": {"imdb": "tt0000111"}}}]
        )


def test_control_calls_are_not_logged(sandbox):
    sandbox.catalogue()
    sandbox.ratings("alice")
    assert sandbox.requests() == []


def test_demo_users_are_seeded():
    client = create_app({"SANDBOX_DEMO_USERS": True}).test_client()
    names = {u["username"] for u in client.get("/_sandbox/users").json}
    assert names == {"alice_trakt", "bob_trakt", "carol_trakt"}
    for name in names:
        for kind in ("ratings", "history", "watchlist"):
            assert client.get(f"/_sandbox/users/{name}/{kind}").json, (name, kind)
    token = client.post("/_sandbox/users/alice_trakt/tokens", json={}).json["access_token"]
    ratings = client.get("/sync/ratings", headers=api_headers(token)).json
    assert {r["type"] for r in ratings} >= {"movie", "show", "season", "episode"}
    again = create_app({"SANDBOX_DEMO_USERS": True}).test_client()
    assert [r["rating"] for r in again.get("/_sandbox/users/alice_trakt/ratings").json] == [
        r["rating"] for r in ratings
    ], "deterministic"
    client.post("/_sandbox/reset")
    assert len(client.get("/_sandbox/users").json) == 3, "reset seeds them again"


def test_configuration_from_the_environment(monkeypatch):
    monkeypatch.setenv("SANDBOX_TOKEN_TTL", "123")
    monkeypatch.setenv("SANDBOX_DEMO_USERS", "1")
    client = create_app().test_client()
    assert client.post("/_sandbox/users/x/tokens", json={}).json["expires_in"] == 123
    assert len(client.get("/_sandbox/users").json) == 4
    explicit = create_app({"SANDBOX_TOKEN_TTL": 9}).test_client()
    assert explicit.post("/_sandbox/users/x/tokens", json={}).json["expires_in"] == 9


def test_front_page_lists_users(sandbox: SandboxControl):
    sandbox.add_user("zoe")
    page = sandbox.http.get(f"{sandbox.url}/", timeout=10)
    assert page.status_code == 200 and "zoe" in page.text


@pytest.mark.browser
def test_browser_signs_in_and_approves_on_the_authorize_page(sandbox, page):
    callback = f"{sandbox.url}/_sandbox/clock"  # any page of ours: we only read the URL
    sandbox.add_app("browser-app", "browser-secret", [callback])
    page.goto(
        f"{sandbox.url}/oauth/authorize?response_type=code&client_id=browser-app"
        f"&redirect_uri={callback}&state=st8"
    )
    page.fill("#username", "bella")
    page.click("#login")
    page.click("#approve")
    page.wait_for_url(f"{callback}?code=*")
    assert "state=st8" in page.url

"""Account limits of 2026 (CONTRACT 10, 6.3, 6.6; checklist 14), over real HTTP.

Free and VIP caps, a 420 with an empty (or small JSON) body and no limit headers, whole
rejection or a partial write, and ``/users/settings`` ``limits`` by tier.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl, SandboxError


@pytest.fixture()
def catalogue(sandbox: SandboxControl) -> dict[str, Any]:
    sandbox.set_limits(writes_per_second=10_000)
    return sandbox.catalogue()


def token_of(sandbox: SandboxControl, username: str, vip: bool = False) -> str:
    sandbox.add_user(username, vip=vip)
    return sandbox.issue_tokens(username)["access_token"]


def ratings(catalogue: dict[str, Any], indices: range, rating: int = 7) -> dict[str, Any]:
    return {"movies": [{"rating": rating, "ids": catalogue["movies"][i]["ids"]} for i in indices]}


def rate(sandbox: SandboxControl, token: str, body: dict[str, Any]) -> Any:
    return sandbox.api("POST", "/sync/ratings", token, json=body)


def rated(sandbox: SandboxControl, username: str) -> int:
    return len(sandbox.ratings(username))


def test_defaults_are_the_2026_table():
    config = create_app().test_client().get("/_sandbox/account-limits").json
    assert config["ratings"] == {"free": 10_000, "vip": 20_000}
    assert config["watchlist"] == {"free": 250, "vip": 5_000}
    assert config["lists"] == {"free": 5, "vip": 100}
    assert config["list_items"] == {"free": 250, "vip": 5_000}
    assert config["collection"] == {"free": 1_000, "vip": 100_000}
    assert config["history"] == {"free": 100_000, "vip": 100_000}
    assert (config["mode"], config["body"]) == ("reject", "empty")


def test_free_ratings_cap_rejects_a_crossing_batch_whole(sandbox, catalogue):
    sandbox.set_account_limits(ratings={"free": 3, "vip": 5})
    token = token_of(sandbox, "fred")
    assert rate(sandbox, token, ratings(catalogue, range(2))).status_code == 201
    refused = rate(sandbox, token, ratings(catalogue, range(2, 4)))
    assert refused.status_code == 420 and refused.content == b""
    assert not {"X-Account-Limit", "X-Upgrade-URL", "X-VIP-User"} & set(refused.headers)
    assert rated(sandbox, "fred") == 2, "nothing of the refused batch was written"
    assert rate(sandbox, token, ratings(catalogue, range(2, 3))).status_code == 201


def test_rerating_takes_no_room_and_removals_free_it(sandbox, catalogue):
    sandbox.set_account_limits(ratings={"free": 3})
    token = token_of(sandbox, "fred")
    assert rate(sandbox, token, ratings(catalogue, range(3))).status_code == 201
    again = rate(sandbox, token, ratings(catalogue, range(3), rating=9))
    assert again.status_code == 201 and again.json()["added"]["movies"] == 3
    assert rate(sandbox, token, ratings(catalogue, range(3, 4))).status_code == 420
    removed = sandbox.api(
        "POST",
        "/sync/ratings/remove",
        token,
        json={"movies": [{"ids": catalogue["movies"][0]["ids"]}]},
    )
    assert removed.status_code == 200
    assert rate(sandbox, token, ratings(catalogue, range(3, 4))).status_code == 201


def test_vip_gets_the_vip_cap_and_the_tier_can_change(sandbox, catalogue):
    sandbox.set_account_limits(ratings={"free": 3, "vip": 5})
    token = token_of(sandbox, "vicky", vip=True)
    assert rate(sandbox, token, ratings(catalogue, range(5))).status_code == 201
    assert rate(sandbox, token, ratings(catalogue, range(5, 6))).status_code == 420
    assert sandbox.update_user("vicky", vip=False)["vip"] is False
    settings = sandbox.api("GET", "/users/settings", token).json()
    assert settings["user"]["vip"] is False
    with pytest.raises(SandboxError, match="no user"):
        sandbox.update_user("nobody", vip=True)
    with pytest.raises(SandboxError, match="unknown flags"):
        sandbox.update_user("vicky", colour="red")


def test_partial_mode_writes_up_to_the_cap_then_420(sandbox, catalogue):
    sandbox.set_account_limits(ratings={"free": 4}, mode="partial")
    token = token_of(sandbox, "pat")
    before = sandbox.last_activities("pat")
    refused = rate(sandbox, token, ratings(catalogue, range(6)))
    assert refused.status_code == 420 and refused.content == b""
    kept = {r["movie"]["ids"]["trakt"] for r in sandbox.ratings("pat")}
    assert kept == {catalogue["movies"][i]["ids"]["trakt"] for i in range(4)}, "in order"
    assert sandbox.last_activities("pat")["movies"]["rated_at"] > before["movies"]["rated_at"]


def test_json_body_option(sandbox, catalogue):
    sandbox.set_account_limits(ratings={"free": 0}, body="json")
    refused = rate(sandbox, token_of(sandbox, "jo"), ratings(catalogue, range(1)))
    assert refused.status_code == 420
    assert refused.json()["error"] == "account_limit_exceeded"
    assert "X-Account-Limit" not in refused.headers


def test_watchlist_cap_reject_and_partial(sandbox, catalogue):
    sandbox.set_account_limits(watchlist={"free": 2, "vip": 3})
    token = token_of(sandbox, "wendy")
    body = {"movies": [{"ids": m["ids"]} for m in catalogue["movies"][:3]]}
    assert sandbox.api("POST", "/sync/watchlist", token, json=body).status_code == 420
    assert sandbox.watchlist("wendy") == []
    sandbox.set_account_limits(mode="partial")
    assert sandbox.api("POST", "/sync/watchlist", token, json=body).status_code == 420
    assert len(sandbox.watchlist("wendy")) == 2
    existing = {"movies": body["movies"][:2]}
    again = sandbox.api("POST", "/sync/watchlist", token, json=existing)
    assert again.status_code == 201 and again.json()["existing"]["movies"] == 2
    sandbox.update_user("wendy", vip=True)
    assert sandbox.api("POST", "/sync/watchlist", token, json=body).status_code == 201


def test_history_cap_counts_every_play(sandbox, catalogue):
    sandbox.set_account_limits(history={"free": 3})
    token = token_of(sandbox, "hal")
    play = {"ids": catalogue["movies"][0]["ids"]}
    assert (
        sandbox.api("POST", "/sync/history", token, json={"movies": [play, play]}).status_code
        == 201
    )
    assert (
        sandbox.api("POST", "/sync/history", token, json={"movies": [play, play]}).status_code
        == 420
    )
    assert len(sandbox.history("hal")) == 2


@pytest.mark.parametrize(
    "vip,expected",
    [
        (False, {"list": {"count": 5, "item_count": 250}, "watchlist": {"item_count": 250}}),
        (True, {"list": {"count": 100, "item_count": 5_000}, "watchlist": {"item_count": 5_000}}),
    ],
)
def test_settings_limits_by_tier_without_ratings_or_history(sandbox, vip, expected):
    settings = sandbox.api("GET", "/users/settings", token_of(sandbox, "sue", vip)).json()
    assert settings["user"]["vip"] is vip
    limits = settings["limits"]
    assert {k: limits[k] for k in expected} == expected
    assert isinstance(limits["favorites"]["item_count"], int)
    assert not {"ratings", "history", "watched"} & set(limits)


def test_settings_follow_configured_caps_and_reset(sandbox):
    sandbox.set_account_limits(watchlist={"free": 7}, lists={"free": 1})
    token = token_of(sandbox, "sue")
    limits = sandbox.api("GET", "/users/settings", token).json()["limits"]
    assert limits["watchlist"]["item_count"] == 7 and limits["list"]["count"] == 1
    sandbox.reset()
    assert sandbox.account_limits()["watchlist"] == {"free": 250, "vip": 5_000}


def test_bad_account_limit_calls_change_nothing(sandbox):
    for bad in (
        {"ratings": 3},
        {"mode": "sometimes"},
        {"body": "xml"},
        {"karma": {"free": 1}},
        {"ratings": {"free": 1, "gold": 2}},
    ):
        with pytest.raises(SandboxError):
            sandbox.set_account_limits(**bad)
    assert sandbox.account_limits()["ratings"] == {"free": 10_000, "vip": 20_000}

"""``not_found`` in each selectable shape (CONTRACT 6.3, checklist 6), over real HTTP.

Whatever the shape, the ``added``/``deleted`` counts stay exact (a client that reconciles
by counts passes in every mode) and ratings answers have no ``existing`` key.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.trakt_sandbox.control_client import SandboxControl, SandboxError
from harness.trakt_sandbox.matching import Miss
from harness.trakt_sandbox.not_found import shape_not_found

MISSING_MOVIE = {"rating": 10, "title": "Nope", "ids": {"imdb": "tt0000111", "tmdb": 1}}
MISSING_EPISODE = {"rating": 6, "ids": {"tvdb": 1}, "rated_at": "2022-07-09T21:26:48.871Z"}
COUNTS = {"movies": 1, "shows": 0, "seasons": 1, "episodes": 1}


@pytest.fixture()
def account(sandbox: SandboxControl) -> dict[str, Any]:
    sandbox.set_limits(writes_per_second=10_000)
    catalogue = sandbox.catalogue()
    return {"token": sandbox.issue_tokens("nina")["access_token"], "catalogue": catalogue}


def ratings_body(catalogue: dict[str, Any]) -> dict[str, Any]:
    """One hit and one miss at each level: movie, nested season, nested episode, episode."""
    tv = catalogue["shows"][0]
    return {
        "movies": [{"rating": 7, "ids": catalogue["movies"][0]["ids"]}, MISSING_MOVIE],
        "shows": [
            {
                "title": tv["title"],
                "ids": tv["ids"],
                "seasons": [
                    {"number": 2, "rating": 9},
                    {"number": 99, "rating": 8},
                    {"number": 1, "episodes": [{"number": 99, "rating": 5}]},
                ],
            }
        ],
        "episodes": [{"rating": 4, "ids": tv["seasons"][0]["episodes"][0]["ids"]}, MISSING_EPISODE],
    }


def post(
    sandbox: SandboxControl, account: dict[str, Any], path: str, body: Any, status: int
) -> dict[str, Any]:
    answer = sandbox.api("POST", path, account["token"], json=body)
    assert answer.status_code == status, answer.text
    return answer.json()


def rate(sandbox: SandboxControl, account: dict[str, Any]) -> dict[str, Any]:
    answer = post(sandbox, account, "/sync/ratings", ratings_body(account["catalogue"]), 201)
    assert answer["added"] == {"movies": 1, "shows": 0, "seasons": 1, "episodes": 1}
    assert "existing" not in answer
    return answer["not_found"]


def test_behaviour_defaults_validation_and_reset(sandbox):
    assert sandbox.behaviour()["not_found"] == "echo"
    assert sandbox.set_behaviour(not_found="nested", seed=3)["not_found"] == "nested"
    with pytest.raises(SandboxError, match="not_found must be one of"):
        sandbox.set_behaviour(not_found="sideways")
    with pytest.raises(SandboxError, match="unknown behaviour keys"):
        sandbox.set_behaviour(nonsense=1)
    with pytest.raises(SandboxError, match="seed"):
        sandbox.set_behaviour(seed="x")
    assert sandbox.behaviour()["not_found"] == "nested", "a refused PUT changes nothing"
    sandbox.reset()
    assert sandbox.behaviour()["not_found"] == "echo"


def test_echo_repeats_each_miss_as_sent(sandbox, account):
    tv_show = ratings_body(account["catalogue"])["shows"][0]
    assert rate(sandbox, account) == {
        "movies": [MISSING_MOVIE],
        "shows": [],
        "seasons": [tv_show["seasons"][1]],
        "episodes": [{"number": 99, "rating": 5}, MISSING_EPISODE],
    }


def test_no_ids_drops_only_the_ids(sandbox, account):
    sandbox.set_behaviour(not_found="no_ids")
    assert rate(sandbox, account) == {
        "movies": [{"rating": 10, "title": "Nope"}],
        "shows": [],
        "seasons": [{"number": 99, "rating": 8}],
        "episodes": [
            {"number": 99, "rating": 5},
            {"rating": 6, "rated_at": "2022-07-09T21:26:48.871Z"},
        ],
    }


def test_empty_answers_empty_objects(sandbox, account):
    sandbox.set_behaviour(not_found="empty")
    assert rate(sandbox, account) == {
        "movies": [{}],
        "shows": [],
        "seasons": [{}],
        "episodes": [{}, {}],
    }


def test_nested_answers_the_show_structure_and_reshaped_ids(sandbox, account):
    sandbox.set_behaviour(not_found="nested")
    tv = account["catalogue"]["shows"][0]
    show_ids = {key: str(value) for key, value in tv["ids"].items() if value is not None}
    assert rate(sandbox, account) == {
        "movies": [{"rating": 10, "title": "Nope", "ids": {"imdb": "tt0000111", "tmdb": "1"}}],
        "shows": [],
        "seasons": [
            {"title": tv["title"], "ids": show_ids, "seasons": [{"number": 99, "rating": 8}]}
        ],
        "episodes": [
            {
                "title": tv["title"],
                "ids": show_ids,
                "seasons": [{"number": 1, "episodes": [{"number": 99, "rating": 5}]}],
            },
            {
                "rating": 6,
                "ids": {"tvdb": "1"},
                "rated_at": "2022-07-09T21:26:48.8710000Z",
                "season": 0,
                "number": 0,
            },
        ],
    }


def test_random_is_reproducible_from_the_seed_and_keeps_counts(sandbox, account):
    shapes_seen = set()
    answers = {}
    for seed in range(12):
        sandbox.set_behaviour(not_found="random", seed=seed)
        answers[seed] = [rate(sandbox, account) for _ in range(2)]
        sandbox.set_behaviour(not_found="random", seed=seed)
        assert [rate(sandbox, account) for _ in range(2)] == answers[seed], "reproducible"
        for not_found in answers[seed]:
            shapes_seen.add(repr(not_found.get("movies")))
    assert len(shapes_seen) > 2, "the seed changes the shapes"
    left_out = [a for runs in answers.values() for a in runs if "shows" not in a]
    assert left_out, "an empty array is sometimes left out"


def test_ratings_remove_history_and_watchlist_use_the_shape(sandbox, account):
    sandbox.set_behaviour(not_found="empty")
    body = ratings_body(account["catalogue"])
    post(sandbox, account, "/sync/ratings", body, 201)
    removed = post(sandbox, account, "/sync/ratings/remove", body, 200)
    assert removed["deleted"] == COUNTS and "existing" not in removed
    assert removed["not_found"]["movies"] == [{}] and removed["not_found"]["episodes"] == [{}, {}]
    history = post(sandbox, account, "/sync/history", body, 201)
    assert history["not_found"]["movies"] == [{}]
    assert history["added"]["movies"] == 1
    history_removed = post(sandbox, account, "/sync/history/remove", {**body, "ids": [7]}, 200)
    assert history_removed["not_found"]["ids"] == [7]
    assert history_removed["not_found"]["seasons"] == [{}]
    watchlist = post(
        sandbox,
        account,
        "/sync/watchlist",
        {"movies": body["movies"], "episodes": body["episodes"]},
        201,
    )
    assert watchlist["not_found"]["movies"] == [{}]
    assert watchlist["added"] == {"movies": 1, "shows": 0, "seasons": 0, "episodes": 1}


MISS_ITEMS = st.dictionaries(
    st.sampled_from(["ids", "rating", "title", "number"]), st.integers(1, 5), max_size=3
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    misses=st.lists(
        st.tuples(st.sampled_from(["movies", "seasons", "episodes"]), MISS_ITEMS), max_size=8
    ),
    seed=st.integers(0, 2**31),
)
def test_random_shapes_keep_one_entry_per_miss(misses, seed):
    """Shape-level property: every miss gives exactly one entry in its own array."""
    shows = {"ids": {"trakt": 1}}
    items = [
        Miss(
            category,
            item,
            shows if category != "movies" else None,
            {"number": 1} if category == "episodes" else None,
        )
        for category, item in misses
    ]
    first = shape_not_found(items, "random", random.Random(seed))
    again = shape_not_found(items, "random", random.Random(seed))
    assert first == again
    for category in ("movies", "shows", "seasons", "episodes"):
        expected = sum(1 for c, _ in misses if c == category)
        assert len(first.get(category, [])) == expected
        if expected:
            assert category in first

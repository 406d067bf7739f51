"""Both roads of ``trakt.ratings.read_ratings`` give the tolerant reader's answers.

The strict road (msgspec, typed) is only a faster way to the same ``TraktRating``s as
``trakt.wire.trakt_rating`` item by item; any answer it refuses goes the tolerant road. So
for any list of items, well-formed or not, the result must equal the tolerant reading,
and for well-formed ones the strict road must be the one taken.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aperture_trakt_plugin.trakt import ratings as trakt_ratings
from aperture_trakt_plugin.trakt.errors import MalformedResponse
from aperture_trakt_plugin.trakt.ratings import read_ratings
from aperture_trakt_plugin.trakt.wire import trakt_rating

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "trakt-api"
KINDS = ("movie", "show", "season", "episode")


def tolerant(items: list[Any]) -> list[Any]:
    return [rating for rating in map(trakt_rating, items) if rating is not None]


def strict_road_taken(content: bytes) -> bool:
    try:
        trakt_ratings._STRICT.decode(content)
    except ValueError:  # msgspec's DecodeError is one
        return False
    return True


# --- well-formed items, as Trakt sends them ------------------------------------------------

small_ids = st.integers(min_value=1, max_value=10**9)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z")
good_ids = st.fixed_dictionaries(
    {},
    optional={
        "trakt": small_ids,
        "tmdb": small_ids | st.none(),
        "tvdb": small_ids | st.none(),
        "imdb": st.sampled_from(["", "tt0111161", "tt1486217"]) | st.none(),
        "slug": st.text(max_size=5),
        "tvrage": st.none(),
    },
)
good_object = st.fixed_dictionaries(
    {"ids": good_ids},
    optional={
        "title": st.text(max_size=8),
        "year": st.integers(1900, 2030),
        "season": st.integers(0, 30),
        "number": st.integers(0, 30),
    },
)


@st.composite
def good_items(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    item = {"rated_at": draw(times), "rating": draw(st.integers(1, 10)), kind: draw(good_object)}
    if draw(st.booleans()):
        item["type"] = kind
    if kind in ("season", "episode"):
        item["show"] = draw(good_object)
    return item


# --- anything near that shape -----------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**10)
    | st.text(max_size=6)
    | st.floats(allow_nan=False, allow_infinity=False)
)
odd_ids = (
    st.dictionaries(st.sampled_from(["trakt", "tmdb", "imdb", "tvdb", "slug"]), scalars, max_size=4)
    | scalars
)
odd_object = (
    st.fixed_dictionaries(
        {},
        optional={
            "ids": odd_ids,
            "title": scalars,
            "year": scalars,
            "season": scalars,
            "number": scalars,
        },
    )
    | scalars
)
odd_items = (
    st.fixed_dictionaries(
        {},
        optional={
            "rated_at": times | st.sampled_from(["2024-01-01T00:00:00", "yesterday", ""]) | scalars,
            "rating": st.integers(-1, 12) | scalars,
            "type": st.sampled_from([*KINDS, "person", ""]) | scalars,
            **{kind: odd_object for kind in KINDS},
        },
    )
    | scalars
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(good_items(), max_size=12))
def test_well_formed_answers_take_the_strict_road_to_the_same_ratings(items: list) -> None:
    content = json.dumps(items).encode()
    assert strict_road_taken(content)
    assert read_ratings(content, "GET /sync/ratings/all") == tolerant(items)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(good_items() | odd_items, max_size=8))
def test_any_answer_reads_as_the_tolerant_reader_reads_it(items: list) -> None:
    assert read_ratings(json.dumps(items).encode(), "GET /sync/ratings/all") == tolerant(items)


@pytest.mark.parametrize(
    "name",
    [
        "sync_ratings",
        "sync_ratings_movies",
        "sync_ratings_shows",
        "sync_ratings_seasons",
        "sync_ratings_episodes",
        "sync_ratings_movies_8",
    ],
)
def test_recorded_trakt_answers_take_the_strict_road(name: str) -> None:
    content = (SAMPLES / f"{name}.json").read_bytes()
    items = json.loads(content)
    assert strict_road_taken(content)
    ratings = read_ratings(content, f"GET /sync/ratings ({name})")
    assert ratings == tolerant(items) and len(ratings) == len(items)


@pytest.mark.parametrize("content", [b"null", b" [ ] ", b"[]"])
def test_empty_answers_hold_no_ratings(content: bytes) -> None:
    assert read_ratings(content, "GET /sync/ratings/movies") == []


@pytest.mark.parametrize(
    "content", [b'{"error": "x"}', b"<html>502</html>", b"[{}, ", b"\xff\xfe[]", b""]
)
def test_an_answer_that_is_not_a_list_says_so(content: bytes) -> None:
    with pytest.raises(
        MalformedResponse, match="GET /sync/ratings/movies: Trakt's answer was not a JSON list"
    ):
        read_ratings(content, "GET /sync/ratings/movies")

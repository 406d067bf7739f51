"""Trakt's wire formats, read and written without a server: ``mapping``'s decoder of
``/sync/ratings`` items, the sync bodies, the ratings marker of ``/sync/last_activities``,
and the per-type counts that say what a write was confirmed for. The shapes are those of
the recorded samples (``tests/samples/trakt-api``), cut down to what each rule reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aperture_trakt_plugin.host import ExternalIds, MediaRef
from aperture_trakt_plugin.trakt.wire import (
    EPOCH,
    HeldRatings,
    TraktRating,
    moved_types,
    parse_time,
    ratings_marker,
    short_types,
    sync_body,
    trakt_rating,
    trakt_time,
)

AT = "2026-03-01T12:30:45.123Z"
WHEN = datetime(2026, 3, 1, 12, 30, 45, 123000, tzinfo=UTC)
SHOW = {
    "title": "Fargo",
    "year": 2014,
    "ids": {"trakt": 60203, "tvdb": 269613, "imdb": "tt2802850", "tmdb": 60622},
}


def test_a_movie_rating_is_read_with_its_ids_and_time() -> None:
    item = {
        "rated_at": AT,
        "rating": 9,
        "type": "movie",
        "movie": {
            "title": "Heat",
            "year": 1995,
            "ids": {"trakt": 1, "imdb": "tt0113277", "tmdb": 949},
        },
    }
    assert trakt_rating(item) == TraktRating(
        MediaRef("movie", ExternalIds(949, "tt0113277", None, 1), None, "Heat", 1995), 1, 9, WHEN
    )


def test_an_episode_is_its_show_by_ids_and_its_place() -> None:
    item = {
        "rated_at": AT,
        "rating": 8,
        "type": "episode",
        "show": SHOW,
        "episode": {"season": 2, "number": 5, "ids": {"trakt": 999}},
    }
    rating = trakt_rating(item)
    assert rating is not None
    assert (
        rating.ref.kind,
        rating.ref.ids.tvdb,
        rating.ref.season,
        rating.ref.episode,
        rating.trakt_id,
    ) == ("episode", 269613, 2, 5, 999)
    assert rating.orphan_key == "t:episode:999"


def test_a_season_without_type_is_found_by_its_key() -> None:
    item = {"rated_at": AT, "rating": 7, "show": SHOW, "season": {"number": 1, "ids": {"trakt": 5}}}
    rating = trakt_rating(item)
    assert rating is not None and (rating.ref.kind, rating.ref.season) == ("season", 1)


@pytest.mark.parametrize(
    "item",
    [
        None,
        [],
        "movie",
        {"rating": 9},
        {"rating": 0, "type": "movie", "movie": {"ids": {"tmdb": 1}}},
        {"rating": 11, "type": "movie", "movie": {"ids": {"tmdb": 1}}},
        {"rating": True, "type": "movie", "movie": {"ids": {"tmdb": 1}}},
        {"rating": "9", "type": "movie", "movie": {"ids": {"tmdb": 1}}},
        {"rating": 9, "type": "movie", "movie": {"title": "No ids", "ids": {}}},
        {"rating": 9, "type": "movie", "movie": {"ids": {"tmdb": True, "tvdb": "12"}}},
        {"rating": 9, "type": "film", "film": {"ids": {"tmdb": 1}}},
        {"rating": 9, "type": "episode", "show": SHOW, "episode": {"number": 5}},
        {"rating": 9, "type": "episode", "show": "Fargo", "episode": {"season": 1, "number": 1}},
    ],
    ids=repr,
)
def test_an_unusable_item_is_skipped_never_guessed(item: object) -> None:
    assert trakt_rating(item) is None


def test_a_missing_or_unreadable_time_is_the_epoch() -> None:
    item = {"rating": 6, "type": "movie", "movie": {"ids": {"tmdb": 949}}, "rated_at": "yesterday"}
    rating = trakt_rating(item)
    assert rating is not None and rating.rated_at == EPOCH


def test_times_go_out_in_trakts_form_and_come_back_the_same() -> None:
    assert trakt_time(WHEN) == AT
    assert parse_time(trakt_time(WHEN)) == WHEN
    assert parse_time("2026-03-01T12:30:45") == WHEN.replace(microsecond=0)  # naive: UTC
    assert parse_time(None) is parse_time("") is parse_time("soon") is None


def test_a_sync_body_nests_seasons_and_episodes_under_their_show() -> None:
    show_ids = ExternalIds(60622, "tt2802850", 269613, 60203)
    heat = MediaRef("movie", ExternalIds(949, "tt0113277", 1234, 1))
    body = sync_body(
        [
            (heat, 9, WHEN),
            (MediaRef("season", show_ids, season=1), 7, WHEN),
            (MediaRef("episode", show_ids, season=1, episode=2), None, WHEN),
            (MediaRef("episode", show_ids, season=2, episode=1), 8, WHEN),
        ]
    )
    assert body["movies"] == [
        {"rating": 9, "rated_at": AT, "ids": {"trakt": 1, "tmdb": 949, "imdb": "tt0113277"}}
    ]
    assert body["seasons"] == body["episodes"] == []
    [show] = body["shows"]
    assert show["ids"] == {"trakt": 60203, "tvdb": 269613, "tmdb": 60622, "imdb": "tt2802850"}
    assert show["seasons"] == [
        {"number": 1, "rating": 7, "rated_at": AT, "episodes": [{"number": 2}]},
        {"number": 2, "episodes": [{"number": 1, "rating": 8, "rated_at": AT}]},
    ]


def test_the_ratings_marker_tolerates_any_shape() -> None:
    activities = {"movies": {"rated_at": AT}, "shows": {"rated_at": None}, "seasons": [], "all": AT}
    assert ratings_marker(activities) == {
        "movies": AT,
        "shows": None,
        "seasons": None,
        "episodes": None,
    }
    assert ratings_marker("<html>") == dict.fromkeys(("movies", "shows", "seasons", "episodes"))


def test_moved_types_are_those_whose_time_changed_or_is_unknown() -> None:
    old = {"movies": AT, "shows": AT, "seasons": AT, "episodes": None}
    new = {"movies": AT, "shows": "2026-03-02T00:00:00.000Z", "seasons": AT, "episodes": None}
    assert moved_types(old, new) == ["shows", "episodes"]
    assert moved_types(None, new) == ["movies", "shows", "seasons", "episodes"]


@pytest.mark.parametrize(
    ("answer", "short"),
    [
        ({"added": {"movies": 2, "episodes": 1}}, set()),
        ({"added": {"movies": 1, "episodes": 1}}, {"movies"}),
        ({"added": {"movies": "2", "episodes": 1}}, {"movies"}),
        ({"added": {"movies": 2}}, {"episodes"}),
        ({"deleted": {"movies": 2, "episodes": 1}}, {"movies", "episodes"}),
        ([], {"movies", "episodes"}),
        (None, {"movies", "episodes"}),
    ],
)
def test_a_write_is_confirmed_per_type_by_its_count(answer: object, short: set[str]) -> None:
    assert short_types(["movie", "movie", "episode"], answer, "added") == short


def test_held_ratings_find_an_item_by_any_id_it_shares() -> None:
    held = HeldRatings(
        [
            TraktRating(MediaRef("movie", ExternalIds(949, "tt0113277", None, 1)), 1, 9, WHEN),
            TraktRating(
                MediaRef("episode", ExternalIds(None, None, 269613, None), season=1, episode=2),
                7,
                6,
                WHEN,
            ),
        ]
    )
    assert held.value(MediaRef("movie", ExternalIds(imdb="tt0113277"))) == 9
    assert held.value(MediaRef("movie", ExternalIds(tmdb=949))) == 9
    assert held.value(MediaRef("show", ExternalIds(tmdb=949))) is None  # another kind
    assert held.value(MediaRef("episode", ExternalIds(tvdb=269613), season=1, episode=2)) == 6
    assert held.value(MediaRef("episode", ExternalIds(tvdb=269613), season=1, episode=3)) is None

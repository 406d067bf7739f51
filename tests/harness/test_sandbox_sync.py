"""/sync/* over real HTTP: ratings, last_activities, history, watched and watchlist."""

from __future__ import annotations

from typing import Any

import pytest

from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl, api_headers

MISSING_MOVIE = {"rating": 10, "ids": {"imdb": "tt0000111"}}


class Account:
    """One signed-in sandbox user and the calls a Trakt client makes for it."""

    def __init__(self, sandbox: SandboxControl, username: str) -> None:
        self.sandbox = sandbox
        self.username = username
        self.token = sandbox.issue_tokens(username)["access_token"]

    def get(self, path: str, **params: Any) -> Any:
        answer = self.sandbox.api("GET", path, self.token, params=params)
        assert answer.status_code == 200, answer.text
        return answer

    def post(self, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        answer = self.sandbox.api("POST", path, self.token, json=body)
        assert answer.status_code == status, answer.text
        return answer.json()

    def activities(self) -> dict[str, Any]:
        return self.get("/sync/last_activities").json()


@pytest.fixture()
def catalogue(sandbox: SandboxControl) -> dict[str, Any]:
    return sandbox.catalogue()


@pytest.fixture()
def alice(sandbox: SandboxControl) -> Account:
    sandbox.set_limits(writes_per_second=1000)  # these tests are about data, not limits
    return Account(sandbox, "alice")


def movie(catalogue: dict[str, Any], index: int) -> dict[str, Any]:
    return catalogue["movies"][index]


def show(catalogue: dict[str, Any], index: int) -> dict[str, Any]:
    return catalogue["shows"][index]


# -- ratings -------------------------------------------------------------------------------
def test_rating_add_counts_not_found_and_keeps_rated_at(alice, catalogue):
    first, second = movie(catalogue, 0), movie(catalogue, 1)
    tv = show(catalogue, 0)
    season_two = tv["seasons"][1]
    body = {
        "movies": [
            {"rated_at": "2014-09-01T09:10:11.000Z", "rating": 5, "ids": first["ids"]},
            {"rating": 8, "ids": {"tmdb": second["ids"]["tmdb"]}},
            MISSING_MOVIE,
        ],
        "shows": [
            {"rating": 9, "ids": {"tvdb": tv["ids"]["tvdb"]}},
            {
                "ids": {"trakt": tv["ids"]["trakt"]},
                "seasons": [
                    {"number": season_two["number"], "rating": 7},
                    {
                        "number": 1,
                        "episodes": [{"number": 1, "rating": 6}, {"number": 2, "rating": 4}],
                    },
                ],
            },
        ],
        "seasons": [{"rating": 10, "ids": {"trakt": tv["seasons"][2]["ids"]["trakt"]}}],
        "episodes": [{"rating": 3, "ids": {"trakt": season_two["episodes"][0]["ids"]["trakt"]}}],
    }
    answer = alice.post("/sync/ratings", body, 201)
    assert answer == {
        "added": {"movies": 2, "shows": 1, "seasons": 2, "episodes": 3},
        "not_found": {"movies": [MISSING_MOVIE], "shows": [], "seasons": [], "episodes": []},
    }
    ratings = alice.get("/sync/ratings").json()
    assert len(ratings) == 8
    oldest = ratings[-1]
    assert oldest == {
        "rated_at": "2014-09-01T09:10:11.000Z",
        "rating": 5,
        "type": "movie",
        "movie": {"title": first["title"], "year": first["year"], "ids": first["ids"]},
    }
    episode = next(r for r in ratings if r["type"] == "episode" and r["rating"] == 4)
    assert episode["episode"]["season"] == 1 and episode["episode"]["number"] == 2
    assert episode["show"]["ids"] == tv["ids"]


def test_rating_is_an_upsert(alice, catalogue):
    ids = movie(catalogue, 3)["ids"]
    alice.post("/sync/ratings", {"movies": [{"rating": 4, "ids": ids}]}, 201)
    alice.post("/sync/ratings", {"movies": [{"rating": 9, "ids": ids}]}, 201)
    ratings = alice.get("/sync/ratings/movies").json()
    assert [(r["rating"], r["movie"]["ids"]["trakt"]) for r in ratings] == [(9, ids["trakt"])]


def test_ratings_filters_by_type_and_value(alice, catalogue):
    body = {
        "movies": [{"rating": n, "ids": movie(catalogue, n)["ids"]} for n in (7, 8, 9)],
        "shows": [{"rating": 8, "ids": show(catalogue, 1)["ids"]}],
    }
    alice.post("/sync/ratings", body, 201)
    assert {r["type"] for r in alice.get("/sync/ratings/all").json()} == {"movie", "show"}
    assert len(alice.get("/sync/ratings/movies").json()) == 3
    eights = alice.get("/sync/ratings/movies/8").json()
    assert [r["rating"] for r in eights] == [8]
    assert sorted(r["rating"] for r in alice.get("/sync/ratings/all/8,9").json()) == [8, 8, 9]
    assert (
        alice.get("/sync/ratings/shows").json()[0]["show"]["ids"]["trakt"]
        == show(catalogue, 1)["ids"]["trakt"]
    )


def test_ratings_pagination_is_optional(alice, catalogue):
    body = {"movies": [{"rating": 7, "ids": movie(catalogue, n)["ids"]} for n in range(15)]}
    alice.post("/sync/ratings", body, 201)
    everything = alice.get("/sync/ratings")
    assert len(everything.json()) == 15 and "X-Pagination-Page" not in everything.headers
    paged = alice.get("/sync/ratings", page=2, limit=10)
    assert len(paged.json()) == 5
    assert paged.headers["X-Pagination-Page-Count"] == "2"
    assert paged.headers["X-Pagination-Item-Count"] == "15"
    first = alice.get("/sync/ratings", page=1)
    assert len(first.json()) == 15 and first.headers["X-Pagination-Limit"] == "100"


def test_rating_remove_counts(alice, catalogue):
    rated, unrated = movie(catalogue, 0)["ids"], movie(catalogue, 1)["ids"]
    alice.post("/sync/ratings", {"movies": [{"rating": 6, "ids": rated}]}, 201)
    answer = alice.post(
        "/sync/ratings/remove",
        {"movies": [{"ids": rated}, {"ids": unrated}, {"ids": {"imdb": "tt0000111"}}]},
        200,
    )
    assert answer == {
        "deleted": {"movies": 1, "shows": 0, "seasons": 0, "episodes": 0},
        "not_found": {
            "movies": [{"ids": {"imdb": "tt0000111"}}],
            "shows": [],
            "seasons": [],
            "episodes": [],
        },
    }
    assert alice.get("/sync/ratings").json() == []


def test_invalid_rating_is_422(alice, catalogue):
    answer = alice.sandbox.api(
        "POST",
        "/sync/ratings",
        alice.token,
        json={"movies": [{"rating": 11, "ids": movie(catalogue, 0)["ids"]}]},
    )
    assert answer.status_code == 422


def test_last_activities_move_on_add_and_on_remove(alice, catalogue):
    before = alice.activities()
    assert set(before) >= {"all", "movies", "shows", "seasons", "episodes", "watchlist"}
    assert before["movies"]["rated_at"].endswith("Z") and len(before["all"]) == 24
    ids = movie(catalogue, 0)["ids"]
    alice.post("/sync/ratings", {"movies": [{"rating": 6, "ids": ids}]}, 201)
    added = alice.activities()
    assert added["movies"]["rated_at"] > before["movies"]["rated_at"]
    assert added["all"] > before["all"]
    assert added["shows"]["rated_at"] == before["shows"]["rated_at"]
    alice.post("/sync/ratings/remove", {"movies": [{"ids": ids}]}, 200)
    removed = alice.activities()
    assert removed["movies"]["rated_at"] > added["movies"]["rated_at"]
    alice.post("/sync/ratings/remove", {"movies": [{"ids": ids}]}, 200)
    assert alice.activities() == removed, "a write that changes nothing moves nothing"


# -- history and watched -------------------------------------------------------------------
def test_history_adds_plays_without_dedup_and_pages_newest_first(alice, catalogue):
    ids = movie(catalogue, 0)["ids"]
    play = {"ids": ids, "watched_at": "2020-01-01T20:00:00.000Z"}
    answer = alice.post("/sync/history", {"movies": [play, play, MISSING_MOVIE]}, 201)
    assert answer["added"] == {"movies": 2, "episodes": 0}
    assert answer["not_found"]["movies"] == [MISSING_MOVIE]
    tv = show(catalogue, 1)
    season = tv["seasons"][0]
    alice.post(
        "/sync/history",
        {
            "shows": [
                {
                    "ids": tv["ids"],
                    "seasons": [
                        {"number": season["number"], "watched_at": "2021-05-05T10:00:00.000Z"}
                    ],
                }
            ]
        },
        201,
    )
    history = alice.get("/sync/history", limit=100).json()
    assert len(history) == 2 + len(season["episodes"])
    assert history[0]["type"] == "episode" and history[-1]["type"] == "movie"
    assert {"id", "watched_at", "action", "type", "episode", "show"} <= set(history[0])
    first_page = alice.get("/sync/history")
    assert len(first_page.json()) == min(100, len(history))
    assert first_page.headers["X-Pagination-Limit"] == "100"
    movies_only = alice.get("/sync/history/movies").json()
    assert [h["movie"]["ids"]["trakt"] for h in movies_only] == [ids["trakt"]] * 2
    one_show = alice.get(f"/sync/history/shows/{tv['ids']['trakt']}", limit=100).json()
    assert len(one_show) == len(season["episodes"])
    window = alice.get(
        "/sync/history", start_at="2021-01-01", end_at="2021-12-31", limit=100
    ).json()
    assert all(h["type"] == "episode" for h in window) and window


def test_history_special_watched_at_values(alice, catalogue):
    alice.post(
        "/sync/history",
        {
            "movies": [
                {"ids": movie(catalogue, 0)["ids"], "watched_at": "released"},
                {"ids": movie(catalogue, 1)["ids"], "watched_at": "unknown"},
            ]
        },
        201,
    )
    history = alice.get("/sync/history").json()
    assert len(history) == 2 and all(h["watched_at"].endswith(".000Z") for h in history)


def test_history_remove_by_media_and_by_history_id(alice, catalogue):
    first, second = movie(catalogue, 0)["ids"], movie(catalogue, 1)["ids"]
    alice.post("/sync/history", {"movies": [{"ids": first}, {"ids": first}, {"ids": second}]}, 201)
    history = alice.get("/sync/history").json()
    second_play = next(h["id"] for h in history if h["movie"]["ids"] == second)
    answer = alice.post(
        "/sync/history/remove", {"movies": [{"ids": first}], "ids": [second_play, 42]}, 200
    )
    assert answer["deleted"] == {"movies": 3, "episodes": 0}
    assert answer["not_found"]["ids"] == [42] and answer["not_found"]["movies"] == []
    assert alice.get("/sync/history").json() == []


def test_watched_movies_and_shows(alice, catalogue):
    ids = movie(catalogue, 2)["ids"]
    tv = show(catalogue, 2)
    alice.post(
        "/sync/history",
        {
            "movies": [
                {"ids": ids, "watched_at": "2022-01-01T00:00:00.000Z"},
                {"ids": ids, "watched_at": "2022-02-01T00:00:00.000Z"},
            ],
            "shows": [
                {
                    "ids": tv["ids"],
                    "seasons": [{"number": 1, "episodes": [{"number": 1}, {"number": 2}]}],
                }
            ],
        },
        201,
    )
    movies = alice.get("/sync/watched/movies")
    assert movies.headers["X-Pagination-Limit"] == "100"
    first = movies.json()[0]
    assert first["plays"] == 2 and first["movie"]["ids"] == ids
    assert first["last_watched_at"] == "2022-02-01T00:00:00.000Z"
    shows = alice.get("/sync/watched/shows", extended="full").json()
    assert shows[0]["plays"] == 2 and shows[0]["reset_at"] is None
    assert "seasons" not in shows[0], "seasons only with extended=progress (CONTRACT 6.7)"
    bare = alice.get("/sync/watched/shows").json()[0]["show"]
    assert set(bare) == {"title", "year", "ids", "aired_episodes"}
    progress = alice.get("/sync/watched/shows", extended="progress").json()
    episodes = progress[0]["seasons"][0]["episodes"]
    assert progress[0]["seasons"] == [
        {
            "number": 1,
            "episodes": [
                {"number": 1, "plays": 1, "last_watched_at": episodes[0]["last_watched_at"]},
                {"number": 2, "plays": 1, "last_watched_at": episodes[1]["last_watched_at"]},
            ],
        }
    ]
    assert "images" not in progress[0]["show"]


def test_watched_is_most_recent_first(alice, catalogue):
    alice.post(
        "/sync/history",
        {
            "movies": [
                {"ids": movie(catalogue, 0)["ids"], "watched_at": "2020-01-01T00:00:00.000Z"},
                {"ids": movie(catalogue, 0)["ids"], "watched_at": "2020-01-02T00:00:00.000Z"},
                {"ids": movie(catalogue, 1)["ids"], "watched_at": "2023-01-01T00:00:00.000Z"},
            ]
        },
        201,
    )
    order = [m["movie"]["ids"]["trakt"] for m in alice.get("/sync/watched/movies").json()]
    assert order == [movie(catalogue, 1)["ids"]["trakt"], movie(catalogue, 0)["ids"]["trakt"]]


def test_watched_min_is_unpaginated_id_maps(alice, catalogue):
    tv = show(catalogue, 2)
    first_episode = tv["seasons"][0]["episodes"][0]["ids"]["trakt"]
    body = {
        "movies": [
            {"ids": movie(catalogue, n)["ids"], "watched_at": "2021-03-04T05:06:07.000Z"}
            for n in range(120)
        ],
        "episodes": [
            {"ids": {"trakt": first_episode}, "watched_at": f"2022-0{month}-01T00:00:00.000Z"}
            for month in (1, 2)
        ],
    }
    alice.post("/sync/history", body, 201)
    movies = alice.get("/sync/watched/movies", extended="min")
    assert "X-Pagination-Page" not in movies.headers
    assert len(movies.json()) == 120
    assert movies.json()[str(movie(catalogue, 0)["ids"]["trakt"])] == ["2021-03-04T05:06:07.000Z"]
    shows = alice.get("/sync/watched/shows", extended="min").json()
    assert shows == {
        str(tv["ids"]["trakt"]): {
            "1": {str(first_episode): ["2022-02-01T00:00:00.000Z", "2022-01-01T00:00:00.000Z"]}
        }
    }


def test_watched_specials_only_with_specials_true():
    show_with_specials = {
        "title": "Specials Show",
        "year": 2010,
        "ids": {"tvdb": 1},
        "seasons": [{"number": 0, "episodes": 1}, {"number": 1, "episodes": 2}],
    }
    client = create_app(
        {
            "SANDBOX_CATALOGUE": {"movies": [], "shows": [show_with_specials]},
            "SANDBOX_WRITES_PER_SECOND": 100,
        }
    ).test_client()
    token = client.post("/_sandbox/users/sam/tokens", json={}).json["access_token"]
    headers = api_headers(token)
    client.post("/sync/history", headers=headers, json={"shows": [{"ids": {"tvdb": 1}}]})
    plain = client.get("/sync/watched/shows?extended=progress", headers=headers).json
    assert [s["number"] for s in plain[0]["seasons"]] == [1]
    specials = client.get(
        "/sync/watched/shows?extended=progress&specials=true", headers=headers
    ).json
    assert [s["number"] for s in specials[0]["seasons"]] == [0, 1]


# -- watchlist -------------------------------------------------------------------------------
def test_watchlist_add_existing_not_found_and_list(alice, catalogue):
    first, second = movie(catalogue, 0)["ids"], movie(catalogue, 1)["ids"]
    tv = show(catalogue, 0)
    answer = alice.post(
        "/sync/watchlist",
        {"movies": [{"ids": first}, MISSING_MOVIE], "shows": [{"ids": tv["ids"]}]},
        201,
    )
    assert answer["added"] == {"movies": 1, "shows": 1, "seasons": 0, "episodes": 0}
    assert answer["existing"] == {"movies": 0, "shows": 0, "seasons": 0, "episodes": 0}
    assert answer["not_found"]["movies"] == [MISSING_MOVIE]
    assert answer["list"]["item_count"] == 2
    again = alice.post("/sync/watchlist", {"movies": [{"ids": first}, {"ids": second}]}, 201)
    assert again["added"]["movies"] == 1 and again["existing"]["movies"] == 1
    listed = alice.get("/sync/watchlist")
    items = listed.json()
    assert [i["rank"] for i in items] == [1, 2, 3]
    assert {"rank", "id", "listed_at", "notes", "type"} <= set(items[0])
    assert listed.headers["X-Applied-Sort-By"] == "rank"
    assert listed.headers["X-Sort-By"] == "rank"
    by_title = alice.get("/sync/watchlist/movies/title/desc")
    titles = [i["movie"]["title"] for i in by_title.json()]
    assert titles == sorted(titles, key=str.lower, reverse=True)
    assert by_title.headers["X-Applied-Sort-How"] == "desc"
    removed = alice.post("/sync/watchlist/remove", {"movies": [{"ids": first}]}, 200)
    assert removed["deleted"]["movies"] == 1 and removed["list"]["item_count"] == 2


def test_watching_removes_from_the_watchlist(alice, catalogue):
    ids = movie(catalogue, 5)["ids"]
    tv = show(catalogue, 3)
    alice.post("/sync/watchlist", {"movies": [{"ids": ids}], "shows": [{"ids": tv["ids"]}]}, 201)
    before = alice.activities()
    alice.post(
        "/sync/history",
        {"movies": [{"ids": ids}], "episodes": [{"ids": tv["seasons"][0]["episodes"][0]["ids"]}]},
        201,
    )
    assert alice.get("/sync/watchlist").json() == []
    after = alice.activities()
    assert after["movies"]["watchlisted_at"] > before["movies"]["watchlisted_at"]
    assert after["shows"]["watchlisted_at"] > before["shows"]["watchlisted_at"]


def test_watchlist_limit_is_420(alice, catalogue, sandbox):
    limit = alice.get("/users/settings").json()["limits"]["watchlist"]["item_count"]
    assert limit == 250, "free accounts since 2026-02 (CONTRACT 10)"
    items = [{"ids": m["ids"]} for m in catalogue["movies"][:limit]]
    alice.post("/sync/watchlist", {"movies": items}, 201)
    over = sandbox.api(
        "POST",
        "/sync/watchlist",
        alice.token,
        json={"movies": [{"ids": movie(catalogue, limit)["ids"]}]},
    )
    assert over.status_code == 420 and over.content == b""
    assert "X-Account-Limit" not in over.headers
    sandbox.add_user("alice", vip=True)
    vip = sandbox.api(
        "POST",
        "/sync/watchlist",
        alice.token,
        json={"movies": [{"ids": movie(catalogue, limit)["ids"]}]},
    )
    assert vip.status_code == 201


def test_watchlist_notes_are_vip_only(alice, catalogue, sandbox):
    body = {"movies": [{"ids": movie(catalogue, 0)["ids"], "notes": "with popcorn"}]}
    assert sandbox.api("POST", "/sync/watchlist", alice.token, json=body).status_code == 426
    sandbox.add_user("alice", vip=True)
    alice.post("/sync/watchlist", body, 201)
    assert alice.get("/sync/watchlist").json()[0]["notes"] == "with popcorn"


def test_extended_full_in_sync_lists(alice, catalogue):
    alice.post("/sync/ratings", {"movies": [{"rating": 7, "ids": movie(catalogue, 0)["ids"]}]}, 201)
    full = alice.get("/sync/ratings", extended="full").json()[0]["movie"]
    assert {"overview", "runtime", "genres", "rating", "votes", "released"} <= set(full)


# -- the same lists read through /users/{id} ----------------------------------------------------
def test_users_routes_serve_the_same_lists(alice, catalogue, sandbox):
    ids = movie(catalogue, 0)["ids"]
    alice.post("/sync/ratings", {"movies": [{"rating": 8, "ids": ids}]}, 201)
    alice.post("/sync/history", {"movies": [{"ids": ids}]}, 201)
    for path in ("ratings", "ratings/movies/8", "history", "watched/movies", "watchlist"):
        assert alice.get(f"/users/me/{path}").json() == alice.get(f"/sync/{path}").json()
    assert alice.get("/users/me").json()["username"] == "alice"
    public = sandbox.api("GET", "/users/alice/ratings").json()
    assert public == alice.get("/sync/ratings").json(), "a public profile needs no token"


def test_private_profiles_and_anonymous_me(alice, sandbox):
    assert sandbox.api("GET", "/users/me/ratings").status_code == 401
    assert sandbox.api("GET", "/users/nobody-here").status_code == 404
    sandbox.add_user("alice", private=True)
    refused = sandbox.api("GET", "/users/alice/ratings")
    assert refused.status_code == 401 and refused.headers["X-Private-User"] == "true"
    assert alice.get("/users/alice/ratings").json() == []

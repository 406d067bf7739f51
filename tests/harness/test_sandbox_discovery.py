"""Trending, popular and recommendations over real HTTP (CONTRACT section 7)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.trakt_sandbox.control_client import SandboxControl

FULL_MOVIE_KEYS = {
    "title",
    "year",
    "ids",
    "tagline",
    "overview",
    "released",
    "runtime",
    "country",
    "trailer",
    "homepage",
    "status",
    "rating",
    "votes",
    "comment_count",
    "updated_at",
    "language",
    "languages",
    "available_translations",
    "genres",
    "certification",
}
FULL_SHOW_KEYS = {
    "title",
    "year",
    "ids",
    "overview",
    "first_aired",
    "airs",
    "runtime",
    "certification",
    "network",
    "country",
    "status",
    "rating",
    "votes",
    "aired_episodes",
    "genres",
    "updated_at",
    "available_translations",
}


@pytest.fixture()
def catalogue(sandbox: SandboxControl) -> dict[str, Any]:
    return sandbox.catalogue()


def library_split(sandbox: SandboxControl, plural: str, extract: Any) -> set[bool]:
    catalogue = sandbox.catalogue()
    in_library = {m["ids"]["trakt"]: m["in_library"] for m in catalogue[plural]}
    listed = sandbox.api("GET", f"/{plural}/trending", params={"limit": 250}).json()
    return {in_library[extract(item)["ids"]["trakt"]] for item in listed}


def test_catalogue_holds_library_titles_and_others(catalogue):
    for plural in ("movies", "shows"):
        assert {m["in_library"] for m in catalogue[plural]} == {True, False}


@pytest.mark.parametrize("plural,kind", [("movies", "movie"), ("shows", "show")])
def test_trending_shape_paging_and_both_kinds_of_titles(sandbox, catalogue, plural, kind):
    answer = sandbox.api("GET", f"/{plural}/trending")
    assert answer.status_code == 200
    items = answer.json()
    assert len(items) == min(100, len(catalogue[plural]))
    assert answer.headers["X-Pagination-Page"] == "1"
    assert answer.headers["X-Pagination-Limit"] == "100"
    assert set(items[0]) == {"watchers", kind}
    assert set(items[0][kind]) == {"title", "year", "ids"}
    watchers = [i["watchers"] for i in items]
    assert watchers == sorted(watchers, reverse=True)
    assert int(answer.headers["X-Trending-User-Count"]) >= sum(watchers)
    assert library_split(sandbox, plural, lambda item: item[kind]) == {True, False}
    again = sandbox.api("GET", f"/{plural}/trending").json()
    assert again == items, "deterministic order"


@pytest.mark.parametrize("plural,keys", [("movies", FULL_MOVIE_KEYS), ("shows", FULL_SHOW_KEYS)])
def test_popular_is_bare_objects_and_extended_full_adds_metadata(sandbox, plural, keys):
    minimal = sandbox.api("GET", f"/{plural}/popular", params={"limit": 3}).json()
    assert len(minimal) == 3 and set(minimal[0]) == {"title", "year", "ids"}
    full = sandbox.api("GET", f"/{plural}/popular", params={"limit": 3, "extended": "full"}).json()
    assert keys <= set(full[0])
    assert isinstance(full[0]["rating"], float) and isinstance(full[0]["votes"], int)
    assert [m["ids"] for m in full] == [m["ids"] for m in minimal]


def test_popular_genre_and_year_filters(sandbox):
    items = sandbox.api(
        "GET",
        "/movies/popular",
        params={"genres": "horror", "years": "1970-1989", "limit": 50, "extended": "full"},
    ).json()
    assert items and all("horror" in m["genres"] and 1970 <= m["year"] <= 1989 for m in items)


def test_recommendations_need_a_user(sandbox):
    assert sandbox.api("GET", "/recommendations/movies").status_code == 401


def test_recommendations_limit_default_and_cap(sandbox):
    token = sandbox.issue_tokens("rita")["access_token"]
    default = sandbox.api("GET", "/recommendations/movies", token)
    assert len(default.json()) == 10
    assert default.headers["X-Pagination-Limit"] == "10"
    assert "X-Pagination-Page-Count" not in default.headers
    capped = sandbox.api("GET", "/recommendations/movies", token, params={"limit": 500})
    assert len(capped.json()) == 100 and capped.headers["X-Pagination-Limit"] == "100"
    shows = sandbox.api("GET", "/recommendations/shows", token, params={"limit": 5}).json()
    assert len(shows) == 5 and {"title", "year", "ids"} <= set(shows[0])


def test_recommendations_leave_out_rated_watched_and_hidden(sandbox, catalogue):
    token = sandbox.issue_tokens("rita")["access_token"]
    top = sandbox.api("GET", "/recommendations/movies", token).json()
    rated, watched, hidden = top[0], top[1], top[2]
    sandbox.set_ratings("rita", [{"rating": 9, "type": "movie", "movie": rated}])
    sandbox.set_history("rita", [{"type": "movie", "movie": watched}])
    answer = sandbox.api("DELETE", f"/recommendations/movies/{hidden['ids']['slug']}", token)
    assert answer.status_code == 204 and answer.content == b""
    hide_calls = sandbox.requests(method="DELETE", user="rita")
    assert hide_calls[-1]["path"] == f"/recommendations/movies/{hidden['ids']['slug']}"
    assert hide_calls[-1]["status"] == 204
    assert [h["movie"]["ids"] for h in sandbox.hidden("rita")] == [hidden["ids"]]
    after = {
        m["ids"]["trakt"]
        for m in sandbox.api("GET", "/recommendations/movies", token, params={"limit": 100}).json()
    }
    assert not after & {rated["ids"]["trakt"], watched["ids"]["trakt"], hidden["ids"]["trakt"]}


def test_recommendations_follow_taste(sandbox):
    token = sandbox.issue_tokens("rita")["access_token"]
    horror = sandbox.api("GET", "/movies/popular", params={"genres": "horror", "limit": 250}).json()
    sandbox.set_ratings("rita", [{"rating": 10, "type": "movie", "movie": m} for m in horror[:3]])
    top = sandbox.api(
        "GET", "/recommendations/movies", token, params={"limit": 3, "extended": "full"}
    ).json()
    assert all("horror" in m["genres"] for m in top)


def test_recommendation_ignore_flags(sandbox):
    token = sandbox.issue_tokens("rita")["access_token"]
    top = sandbox.api("GET", "/recommendations/movies", token).json()
    sandbox.set_watchlist("rita", [{"type": "movie", "movie": top[0]}])
    sandbox.set_collection("rita", [{"type": "movie", "movie": top[1]}])
    plain = [m["ids"] for m in sandbox.api("GET", "/recommendations/movies", token).json()]
    assert top[0]["ids"] in plain and top[1]["ids"] in plain
    filtered = [
        m["ids"]
        for m in sandbox.api(
            "GET",
            "/recommendations/movies",
            token,
            params={"ignore_watchlisted": "true", "ignore_collected": "true"},
        ).json()
    ]
    assert top[0]["ids"] not in filtered and top[1]["ids"] not in filtered


def test_ignore_watched_drops_started_shows(sandbox, catalogue):
    token = sandbox.issue_tokens("rita")["access_token"]
    top = sandbox.api("GET", "/recommendations/shows", token).json()[0]
    sandbox.set_history(
        "rita", [{"type": "episode", "show": top, "episode": {"season": 1, "number": 1}}]
    )
    plain = [m["ids"] for m in sandbox.api("GET", "/recommendations/shows", token).json()]
    assert top["ids"] in plain, "a started show is still recommended"
    filtered = [
        m["ids"]
        for m in sandbox.api(
            "GET", "/recommendations/shows", token, params={"ignore_watched": "true"}
        ).json()
    ]
    assert top["ids"] not in filtered


def test_hiding_an_unknown_title_is_404(sandbox):
    token = sandbox.issue_tokens("rita")["access_token"]
    assert sandbox.api("DELETE", "/recommendations/shows/no-such-show", token).status_code == 404


def test_summaries_and_id_search(sandbox, catalogue):
    film = catalogue["movies"][0]
    by_imdb = sandbox.api("GET", f"/movies/{film['ids']['imdb']}").json()
    assert by_imdb["ids"] == film["ids"]
    found = sandbox.api(
        "GET", f"/search/tmdb/{film['ids']['tmdb']}", params={"type": "movie"}
    ).json()
    assert found == [
        {
            "type": "movie",
            "score": None,
            "movie": {"title": film["title"], "year": film["year"], "ids": film["ids"]},
        }
    ]
    tv = catalogue["shows"][0]
    episode = sandbox.api("GET", f"/shows/{tv['ids']['slug']}/seasons/1/episodes/2").json()
    assert episode == tv["seasons"][0]["episodes"][1]


def posters_of(items: list[dict[str, Any]], kind: str | None = None) -> list[list[str]]:
    return [(item[kind] if kind else item)["images"]["poster"] for item in items]


def test_extended_images_adds_trakts_scheme_less_poster_urls_served_here(sandbox):
    """Only with ``extended=images``, on every list a discovery page reads; about one
    title in eight without a poster; each URL answers with a small image."""
    host = sandbox.url.split("://", 1)[1]
    plain = sandbox.api("GET", "/movies/trending", params={"limit": 40}).json()
    assert all("images" not in item["movie"] for item in plain)
    both = {"limit": 40, "extended": "full,images"}
    trending = sandbox.api("GET", "/movies/trending", params=both).json()
    popular = sandbox.api("GET", "/shows/popular", params={"limit": 40, "extended": "images"})
    token = sandbox.issue_tokens("rita")["access_token"]
    recommended = sandbox.api(
        "GET", "/recommendations/movies", token, params={"extended": "images", "limit": 40}
    ).json()
    assert "tagline" in trending[0]["movie"]  # full and images together
    for posters in (
        posters_of(trending, "movie"),
        posters_of(popular.json()),
        posters_of(recommended),
    ):
        assert [] in posters and any(posters)
        assert all(url.startswith(f"{host}/images/") for found in posters for url in found)

    listed = next(item for item in trending if item["movie"]["images"]["poster"])
    url = listed["movie"]["images"]["poster"][0]
    image = sandbox.http.get(f"http://{url}", headers={"User-Agent": "t"}, timeout=10)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/svg+xml"
    assert image.headers["Cache-Control"] == "public, max-age=86400"
    assert image.text.startswith("<svg") and len(image.content) < 2048
    without = next(item for item in trending if not item["movie"]["images"]["poster"])
    trakt_id = without["movie"]["ids"]["trakt"]
    missing = sandbox.http.get(
        f"{sandbox.url}/images/movies/{trakt_id}/poster.svg",
        headers={"User-Agent": "t"},
        timeout=10,
    )
    assert missing.status_code == 404


def test_the_watchlist_carries_posters_with_extended_images(sandbox, catalogue):
    sandbox.set_watchlist("rita", [{"type": "movie", "movie": catalogue["movies"][0]}])
    token = sandbox.issue_tokens("rita")["access_token"]
    items = sandbox.api("GET", "/sync/watchlist/movies", token, params={"extended": "images"})
    assert set(items.json()[0]["movie"]["images"]) >= {"poster", "fanart"}
    plain = sandbox.api("GET", "/sync/watchlist/movies", token).json()
    assert "images" not in plain[0]["movie"]

"""Discovery from Trakt's lists, against the sandbox: each source, label merging, filtering
by both watch histories and by ratings, "not interested" and watchlists (issue 7).

The caches are filled the way the job fills them (``refresh``), then read the way pages
and the command line read them; the sandbox's request log is what Trakt saw.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aperture_trakt_plugin.discovery import refresh, watchlist
from aperture_trakt_plugin.host import ExternalIds
from tests.connect_helpers import (
    configure_trakt,
    connect_with_tokens,
    page,
    run_trakt_jobs,
    trakt_queue,
    user_id,
)
from tests.fixtures_host import csrf_token_from

pytestmark = [pytest.mark.trakt]

SOURCES = ("trakt-recommended", "trakt-watchlist", "trakt-trending", "trakt-popular")


def catalogue_movie(sandbox, tmdb: int) -> dict:
    return next(m for m in sandbox.catalogue()["movies"] if m["ids"]["tmdb"] == tmdb)


def trending(sandbox, plural: str = "movies", limit: int = 50) -> list[dict]:
    kind = plural[:-1]
    return [
        item[kind]
        for item in sandbox.api("GET", f"/{plural}/trending", params={"limit": limit}).json()
    ]


def refresh_now(host_app) -> refresh.RefreshResult:
    with host_app.app_context():
        result = refresh.refresh()
    assert not result.errors, result.errors
    return result


def discover_json(client) -> dict[str, dict]:
    response = client.get("/discover.json")
    assert response.status_code == 200
    return {s["id"]: s for s in response.get_json()["sources"]}


def by_tmdb(candidates: list[dict]) -> dict[int, dict]:
    return {c["ids"]["tmdb"]: c for c in candidates}


@pytest.fixture()
def alice(host_app, sandbox):
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    sandbox.clear_requests()
    return user_id(host_app, "alice")


def test_trending_and_popular_are_fetched_once_for_the_server_without_a_token(
    host_app, host_client, login, sandbox
):
    configure_trakt(host_app, sandbox)
    result = refresh_now(host_app)
    assert result.lists == 4
    calls = [(r["path"], r["user"]) for r in sandbox.requests(method="GET")]
    assert sorted(calls) == [
        ("/movies/popular", None),
        ("/movies/trending", None),
        ("/shows/popular", None),
        ("/shows/trending", None),
    ]

    sandbox.clear_requests()
    login(host_client, "bob")  # not connected: the server's lists still apply
    sources = discover_json(host_client)
    assert sandbox.requests() == [], "a page called Trakt"
    assert list(sources) == list(SOURCES)
    top = trending(sandbox, limit=5)
    movies = sources["trakt-trending"]["movies"]
    bob_watched = {278, 13}  # the seeded watch history of bob
    expected = [m["ids"]["tmdb"] for m in top if m["ids"]["tmdb"] not in bob_watched]
    assert [c["ids"]["tmdb"] for c in movies[: len(expected)]] == expected
    assert movies[0]["reason"] == "Trending on Trakt"
    assert "Trakt Trending" in movies[0]["sources"]
    assert sources["trakt-popular"]["shows"][0]["reason"] in (
        "Popular on Trakt",
        "Trending on Trakt",
    )
    assert sources["trakt-recommended"]["movies"] == []
    library = {m["ids"]["tmdb"]: m["in_library"] for m in sandbox.catalogue()["movies"]}
    for candidate in movies:
        assert (candidate["in_library"] is not None) == library[candidate["ids"]["tmdb"]]


def test_recommendations_use_the_users_token_and_ignore_parameters(
    host_app, alice, sandbox, host_client, login
):
    refresh_now(host_app)
    recs = sandbox.requests(path="/recommendations/movies")
    assert len(recs) == 1 and recs[0]["user"] == "alice_trakt"
    assert recs[0]["query"]["ignore_collected"] == "true"
    assert recs[0]["query"]["ignore_watched"] == "true"
    login(host_client, "alice")
    movies = discover_json(host_client)["trakt-recommended"]["movies"]
    assert movies and all("Trakt Recommended" in c["sources"] for c in movies)
    assert all(c["reason"] for c in movies)


def test_labels_merge_and_both_histories_and_ratings_filter(
    host_app, alice, sandbox, host_client, login
):
    library = {m["ids"]["tmdb"]: m["in_library"] for m in sandbox.catalogue()["movies"]}
    top = [m for m in trending(sandbox) if m["ids"]["tmdb"] not in (27205, 550, 680)]
    on_watchlist, watched_on_trakt = top[0], top[1]
    rated_here = next(m for m in top[2:] if library[m["ids"]["tmdb"]])
    sandbox.set_watchlist("alice_trakt", [{"type": "movie", "movie": on_watchlist}])
    sandbox.set_history(
        "alice_trakt",
        [{"type": "movie", "movie": watched_on_trakt, "watched_at": "2024-01-01T20:00:00.000Z"}],
    )
    host = host_app.extensions["aperture_host"]
    with host_app.app_context():
        ref = host.find_media("movie", ExternalIds(tmdb=rated_here["ids"]["tmdb"]))
        host.apply_rating(alice, ref.item_id, 7, datetime.now(UTC), "aperture")
    refresh_now(host_app)
    login(host_client, "alice")
    sources = discover_json(host_client)
    trending_movies = by_tmdb(sources["trakt-trending"]["movies"])
    merged = trending_movies[on_watchlist["ids"]["tmdb"]]
    assert {"Trakt Trending", "Your Trakt watchlist"} <= set(merged["sources"])
    assert on_watchlist["ids"]["tmdb"] in by_tmdb(sources["trakt-watchlist"]["movies"])
    assert watched_on_trakt["ids"]["tmdb"] not in trending_movies  # Trakt's history
    for seen in (27205, 550, 680):  # alice's history on this server (seeded)
        assert all(seen not in by_tmdb(s["movies"]) for s in sources.values())
    assert rated_here["ids"]["tmdb"] not in trending_movies  # rated here


def test_not_interested_hides_here_at_once_and_on_trakt_by_a_job(
    host_app, alice, sandbox, host_client, login
):
    refresh_now(host_app)
    login(host_client, "alice")
    html = page(host_client, "/discover")
    assert "Not interested" in html and "Trakt Trending" in html
    target = discover_json(host_client)["trakt-trending"]["movies"][0]
    response = host_client.post(
        "/plugins/trakt/discover/hide",
        data={
            "csrf_token": csrf_token_from(html),
            "next": "/discover",
            "kind": "movie",
            "title": target["title"],
            **{k: v for k, v in target["ids"].items() if v},
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/discover")
    after = discover_json(host_client)
    assert all(target["ids"]["tmdb"] not in by_tmdb(s["movies"]) for s in after.values())
    assert sandbox.requests(method="DELETE") == [], "the page itself called Trakt"

    run_trakt_jobs(host_app)
    hides = sandbox.requests(method="DELETE")
    assert [(h["path"], h["user"]) for h in hides] == [
        (f"/recommendations/movies/{target['ids']['trakt']}", "alice_trakt")
    ]
    assert [h["movie"]["ids"]["tmdb"] for h in sandbox.hidden("alice_trakt")] == [
        target["ids"]["tmdb"]
    ]


def test_a_hide_made_while_trakt_is_down_stays_and_goes_later(host_app, alice, sandbox):
    refresh_now(host_app)
    movie = trending(sandbox, limit=3)[0]
    sandbox.fault("DELETE", f"/recommendations/movies/{movie['ids']['trakt']}", 503, count=-1)
    runner = host_app.test_cli_runner()
    result = runner.invoke(
        args=["trakt", "hide", "--user", "alice", "--tmdb", str(movie["ids"]["tmdb"])]
    )
    assert result.exit_code == 0, result.output
    assert "hidden here" in result.output and "503" in result.output
    with host_app.app_context():
        from aperture_trakt_plugin.discovery.candidates import for_list

        assert movie["ids"]["tmdb"] not in {
            c.ids.tmdb for c in for_list(alice, "trakt-trending", "movies")
        }
    sandbox.clear_faults()
    refresh_now(host_app)  # the refresh sends what is pending
    assert [h["movie"]["ids"]["tmdb"] for h in sandbox.hidden("alice_trakt")] == [
        movie["ids"]["tmdb"]
    ]


def test_watchlist_on_the_profile_and_the_command_line(
    host_app, alice, sandbox, host_client, login
):
    catalogue = sandbox.catalogue()
    held = next(m for m in catalogue["movies"] if m["in_library"])
    missing = next(m for m in catalogue["movies"] if not m["in_library"])
    show = catalogue["shows"][0]
    sandbox.set_watchlist(
        "alice_trakt",
        [
            {"type": "movie", "movie": {"ids": held["ids"]}},
            {"type": "movie", "movie": {"ids": missing["ids"]}},
            {"type": "show", "show": {"ids": show["ids"]}},
        ],
    )
    refresh_now(host_app)
    runner = host_app.test_cli_runner()
    result = runner.invoke(args=["trakt", "watchlist", "--user", "alice", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert [(i["kind"], i["ids"]["tmdb"]) for i in items] == [
        ("movie", held["ids"]["tmdb"]),
        ("movie", missing["ids"]["tmdb"]),
        ("show", show["ids"]["tmdb"]),
    ]
    assert items[0]["in_library"] is not None and items[1]["in_library"] is None
    login(host_client, "alice")
    html = page(host_client)
    assert 'id="trakt-watchlist" data-count="3"' in html
    assert held["title"] in html and missing["title"] in html


def test_cli_refresh_and_discover(host_app, alice, sandbox, caplog):
    runner = host_app.test_cli_runner()
    with caplog.at_level("INFO", logger="aperture_trakt_plugin.runs"):
        result = runner.invoke(args=["trakt", "discovery", "refresh"])
    assert result.exit_code == 0, result.output
    # One structured line per connected user's refresh (alice), none for the others.
    runs = [r.trakt_run for r in caplog.records if r.name == "aperture_trakt_plugin.runs"]
    assert [(r["job"], r["user"], r["outcome"], r["lists"], r["failed_lists"]) for r in runs] == [
        ("discovery", alice, "refreshed", 5, 0)
    ], runs
    result = runner.invoke(
        args=["trakt", "discover", "--user", "alice", "--type", "movies", "--limit", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert len(found) == 5
    assert set(found[0]) == {
        "kind",
        "title",
        "year",
        "ids",
        "sources",
        "reason",
        "score",
        "in_library",
    }
    assert found[0]["sources"][0] == "Trakt Recommended"  # the user's own lists first


def test_a_trakt_outage_keeps_the_last_lists_and_says_why(host_app, sandbox, host_client, login):
    configure_trakt(host_app, sandbox)
    refresh_now(host_app)
    sandbox.fault("GET", "/movies/trending", 502, count=-1)
    with host_app.app_context():
        result = refresh.refresh()
    assert [e for e in result.errors if e.startswith("global:trending:movies:") and "(502)" in e], (
        result.errors
    )
    login(host_client, "bob")
    assert discover_json(host_client)["trakt-trending"]["movies"], "the old list was lost"


def test_malformed_answers_are_errors_not_crashes(host_app, sandbox):
    configure_trakt(host_app, sandbox)
    sandbox.fault("GET", "/shows/popular", 200, count=-1, body={"not": "a list"})
    with host_app.app_context():
        result = refresh.refresh()
    assert result.lists == 3
    assert any("not a list" in e for e in result.errors)


def test_connecting_queues_the_users_refresh(host_app, sandbox):
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    run_trakt_jobs(host_app)
    assert sandbox.requests(path="/recommendations/shows", user="alice_trakt")
    with host_app.app_context():
        from aperture_trakt_plugin.discovery import cache

        assert cache.load("global:trending:movies") is not None


def bob_and_admin_like_two(host_app, sandbox) -> tuple[dict, dict]:
    """Bob and the admin rate two trending titles of the library 10 and the others 3."""
    library = {m["ids"]["tmdb"]: m["in_library"] for m in sandbox.catalogue()["movies"]}
    held = [
        m
        for m in trending(sandbox)
        if library[m["ids"]["tmdb"]] and m["ids"]["tmdb"] not in (27205, 550, 680, 278, 13)
    ]
    liked, also = held[0], held[-1]
    host = host_app.extensions["aperture_host"]
    now = datetime.now(UTC)
    with host_app.app_context():
        for name in ("bob", "admin"):
            for movie in held:
                ref = host.find_media("movie", ExternalIds(tmdb=movie["ids"]["tmdb"]))
                value = 10 if movie in (liked, also) else 3
                host.apply_rating(user_id(host_app, name), ref.item_id, value, now, "aperture")
    return liked, also


def test_ratings_of_similar_users_rank_and_explain(host_app, sandbox, host_client, login):
    """Bob and the admin liked two trending titles together; Alice rated the first 9, so
    the second comes first for her, with a reason naming her rating."""
    configure_trakt(host_app, sandbox)
    liked, also = bob_and_admin_like_two(host_app, sandbox)
    host = host_app.extensions["aperture_host"]
    with host_app.app_context():
        ref = host.find_media("movie", ExternalIds(tmdb=liked["ids"]["tmdb"]))
        host.apply_rating(user_id(host_app, "alice"), ref.item_id, 9, datetime.now(UTC), "aperture")
    refresh_now(host_app)
    login(host_client, "alice")
    movies = discover_json(host_client)["trakt-trending"]["movies"]
    assert movies[0]["ids"]["tmdb"] == also["ids"]["tmdb"]
    assert (
        movies[0]["reason"]
        == f"You rated {liked['title']} 9; people here who liked it liked this too"
    )
    assert movies[0]["score"] > 0
    assert movies[-1]["reason"] == "Trending on Trakt"  # no signal: the source's own


def test_reasons_count_people_here_and_name_a_title_the_user_watched(
    host_app, sandbox, host_client, login
):
    """Four other users who rated Inception (which Alice watched here and never rated) 8
    to 10 rated a trending title 9 or 10: Alice's reason says so, with the count and the
    floors; a fifth who rated Inception 5 is not among them. Fewer than three would give
    no count (unit tests of ``reasons``)."""
    from harness.reference_host.db import db
    from harness.reference_host.models import User

    configure_trakt(host_app, sandbox)
    library = {m["ids"]["tmdb"]: m["in_library"] for m in sandbox.catalogue()["movies"]}
    also = next(
        m
        for m in trending(sandbox)
        if library[m["ids"]["tmdb"]] and m["ids"]["tmdb"] not in (27205, 550, 680, 278, 13)
    )
    host = host_app.extensions["aperture_host"]
    now = datetime.now(UTC)
    with host_app.app_context():
        db.session.add_all(User(name=name) for name in ("dana", "erin", "finn"))
        db.session.commit()
        watched = host.find_media("movie", ExternalIds(tmdb=27205))  # alice's seeded play
        wanted = host.find_media("movie", ExternalIds(tmdb=also["ids"]["tmdb"]))
        raters = {"bob": (10, 9), "admin": (9, 10), "dana": (8, 9), "erin": (9, 10)}
        raters["finn"] = (5, 2)  # rated Inception unlike a person who watched it to the end
        for name, (of_watched, of_also) in raters.items():
            rater = user_id(host_app, name)
            host.apply_rating(rater, watched.item_id, of_watched, now, "aperture")
            host.apply_rating(rater, wanted.item_id, of_also, now, "aperture")
    refresh_now(host_app)
    login(host_client, "alice")
    movies = by_tmdb(discover_json(host_client)["trakt-trending"]["movies"])
    assert movies[also["ids"]["tmdb"]]["reason"] == (
        f"You watched {watched.title}; 4 people here who rated it 8+ rated this 9+"
    )


def a_page(items: list, page: int, pages: int, limit: int = 250) -> dict:
    """A fault answering one page of a list, with Trakt's paging headers."""
    return {
        "status": 200,
        "body": items,
        "headers": {
            "X-Pagination-Page": str(page),
            "X-Pagination-Limit": str(limit),
            "X-Pagination-Page-Count": str(pages),
            "X-Pagination-Item-Count": str(len(items)),
        },
    }


ODD_PAGING = {
    "later-page-without-headers": (
        lambda item: [a_page([item], 1, 2), {"status": 200, "body": []}],
        "page 2 came without Trakt's paging headers; the list was not read whole",
        2,
    ),
    "headers-change": (  # page 2 is the sandbox's own: the 2-title list has 1 page
        lambda item: [a_page([item], 1, 3)],
        "Trakt's paging headers changed while the list was read (expected page 2 of 3, "
        "250 per page, got page 2 of 1, 250 per page); it was not read whole",
        2,
    ),
    "too-many-pages": (
        lambda item: [a_page([item], 1, 401)],
        "Trakt has 401 pages of 250 items here, more than the 100000 items read at most; "
        "the list was not read",
        1,
    ),
    "full-page-without-headers": (
        lambda item: [{"status": 200, "body": [item] * 250}],
        "Trakt sent a full page (250 items) without its paging headers, so whether more "
        "follow is unknown; the list was not read",
        1,
    ),
    "page-not-a-list": (
        lambda item: [a_page([item], 1, 2), {"status": 200, "body": {"not": "a list"}}],
        "page 2 of Trakt's answer was not a list",
        2,
    ),
}


@pytest.mark.parametrize("case", list(ODD_PAGING))
def test_a_list_trakt_pages_oddly_is_not_cached_half_read(case, host_app, alice, sandbox):
    """Rather than cache a short list that looks complete, the refresh keeps the last
    good copy, records why, and (a passing fault) runs again later."""
    faults, expected, calls = ODD_PAGING[case]
    movies = sandbox.catalogue()["movies"][:2]
    sandbox.set_watchlist(
        "alice_trakt", [{"type": "movie", "movie": {"ids": m["ids"]}} for m in movies]
    )
    refresh_now(host_app)  # the last good copy
    for fault in faults({"rank": 1, "type": "movie", "movie": movies[0]}):
        sandbox.fault("GET", "/sync/watchlist/movies", **fault)
    sandbox.clear_requests()
    with host_app.app_context():
        result = refresh.refresh([alice], global_lists=False)
        kept = watchlist.summary(alice)
    scope = f"user:{alice}:watchlist:movies"
    assert result.errors == [f"{scope}: GET /sync/watchlist/movies: {expected}"], result.errors
    assert all(exc.retryable for exc in result.failures)
    assert len(sandbox.requests(path="/sync/watchlist/movies")) == calls
    assert [item.ids.tmdb for item in kept.items] == [m["ids"]["tmdb"] for m in movies]
    assert kept.error == f"GET /sync/watchlist/movies: {expected}"


def test_a_sync_bringing_ratings_ranks_again_a_user_ranked_without_any(host_app, sandbox, alice):
    """Another worker took the refresh queued at connecting before the first sync had
    brought Alice's Trakt ratings: her ranking has none of them. The sync that brings
    them queues her refresh again, and after it her reasons name her ratings."""
    from aperture_trakt_plugin.discovery import cache
    from aperture_trakt_plugin.queueing.enqueue import user_job_id
    from aperture_trakt_plugin.usecases import jobs

    liked, also = bob_and_admin_like_two(host_app, sandbox)
    sandbox.set_ratings("alice_trakt", [{"rating": 9, "movie": {"ids": liked["ids"]}}])
    trakt_queue(host_app).empty()  # what connecting queued: run below in the racy order
    with host_app.app_context():
        refresh.refresh([alice])
        assert cache.load(f"user:{alice}:ranked:movies").payload["rated"] == 0
        result = jobs.sync_user(alice)
    assert result["pulled"] > 0
    assert trakt_queue(host_app).job_ids == [user_job_id("discovery", alice)]
    run_trakt_jobs(host_app)
    with host_app.app_context():
        ranked = cache.load(f"user:{alice}:ranked:movies").payload
    assert ranked["rated"] == 1
    also_key = f"movie:tmdb:{also['ids']['tmdb']}"
    assert ranked["scores"][also_key][1].startswith(f"You rated {liked['title']} 9")

"""The sandbox's ratings page (``/site/users/<name>/ratings``): what the demo shows of a
user's Trakt ratings, and rating there as the API would."""

from __future__ import annotations

import requests

from harness.trakt_sandbox.control_client import SandboxControl
from tests.harness.test_sandbox_sync import Account

BROWSER = {"User-Agent": "Mozilla/5.0 (test)"}


def page_of(sandbox: SandboxControl, username: str) -> str:
    return f"{sandbox.url}/site/users/{username}/ratings"


def signed_in(sandbox: SandboxControl, username: str) -> requests.Session:
    session = requests.Session()
    session.headers.update(BROWSER)
    answer = session.post(
        f"{sandbox.url}/oauth/login",
        data={"username": username, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return session


def test_the_page_lists_ratings_newest_first_and_the_home_page_links_it(sandbox):
    sandbox.add_user("alice")
    movies = sandbox.catalogue()["movies"]
    sandbox.set_ratings(
        "alice",
        [
            {
                "type": "movie",
                "rating": 7,
                "rated_at": "2026-01-01T10:00:00.000Z",
                "movie": movies[0],
            },
            {
                "type": "movie",
                "rating": 9,
                "rated_at": "2026-02-01T10:00:00.000Z",
                "movie": movies[1],
            },
        ],
    )
    home = requests.get(f"{sandbox.url}/", headers=BROWSER, timeout=10).text
    assert 'href="/site/users/alice/ratings"' in home
    text = requests.get(page_of(sandbox, "alice"), headers=BROWSER, timeout=10).text
    assert text.index(movies[1]["title"]) < text.index(movies[0]["title"])
    assert "2 ratings." in text
    assert 'id="find-title"' not in text  # reading is open, rating needs the sign-in
    missing = requests.get(page_of(sandbox, "nobody"), headers=BROWSER, timeout=10)
    assert missing.status_code == 404


def test_rating_and_removing_on_the_page_is_what_the_api_sees(sandbox):
    sandbox.set_limits(writes_per_second=1000)
    api = Account(sandbox, "alice")
    movie = sandbox.catalogue()["movies"][2]
    before = api.activities()["movies"]["rated_at"]
    form = {"kind": "movie", "trakt": movie["ids"]["trakt"], "rating": "8", "action": "rate"}

    stranger = requests.post(page_of(sandbox, "alice"), data=form, headers=BROWSER, timeout=10)
    assert 'id="login-form"' in stranger.text  # sign in first
    assert sandbox.ratings("alice") == []

    session = signed_in(sandbox, "alice")
    answer = session.post(page_of(sandbox, "alice"), data=form, timeout=10)
    assert answer.status_code == 200 and answer.url == page_of(sandbox, "alice")
    assert f"Rated {movie['title']} ({movie['year']}) 8/10." in answer.text
    rated = api.get("/sync/ratings/movies").json()
    assert [(r["movie"]["ids"]["trakt"], r["rating"]) for r in rated] == [
        (movie["ids"]["trakt"], 8)
    ]
    assert api.activities()["movies"]["rated_at"] > before  # the sync will look

    other = signed_in(sandbox, "bob").post(page_of(sandbox, "alice"), data=form, timeout=10)
    assert 'id="login-form"' in other.text  # bob cannot rate for alice
    bad = session.post(page_of(sandbox, "alice"), data={**form, "rating": "11"}, timeout=10)
    assert bad.status_code == 400

    removed = session.post(page_of(sandbox, "alice"), data={**form, "action": "remove"}, timeout=10)
    assert "Removed your rating of" in removed.text
    assert api.get("/sync/ratings/movies").json() == []


def test_a_search_offers_the_catalogues_titles_with_the_current_rating(sandbox):
    session = signed_in(sandbox, "alice")
    movie = sandbox.catalogue()["movies"][3]
    sandbox.set_ratings("alice", [{"type": "movie", "rating": 6, "movie": movie}])
    found = session.get(page_of(sandbox, "alice"), params={"q": movie["title"]}, timeout=10).text
    assert 'id="found"' in found and movie["title"] in found
    assert '<option value="6" selected>' in found
    nothing = session.get(page_of(sandbox, "alice"), params={"q": "zzzz-nothing"}, timeout=10)
    assert "catalogue matches" in nothing.text and 'id="found"' in nothing.text

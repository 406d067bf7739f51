"""A Trakt client we did not write, pytrakt from PyPI, works against the sandbox unchanged.

If the sandbox were only faithful to our own assumptions, our plugin could pass against
it and still fail against Trakt. pytrakt (glensc's maintained fork of PyTrakt) is used the
way its documentation shows: ``trakt.core.AUTH_METHOD = trakt.core.DEVICE_AUTH`` then
``trakt.init(client_id=..., client_secret=..., store=True)``, which prints a user code,
polls ``/oauth/device/token`` and stores the tokens in the JSON file at
``trakt.core.CONFIG_PATH``; afterwards its module functions and objects talk to the API.
The only things changed are configuration globals: ``BASE_URL`` (pytrakt has one base for
the API and OAuth, so both point at the sandbox), ``CONFIG_PATH`` (a temp file) and the
HTTP session, and they are restored after each test.

The "user" of the device flow is this test: pytrakt prints "Your user code is: XXXX" and
the console it prints to approves that code through the sandbox's control API, as a
person would on /activate, before pytrakt's first poll.

pytrakt reads ratings through ``User("me").get_ratings(type)`` (``/users/me`` then
``/users/me/ratings/{type}``), but it has no reader of ``/sync/history`` or of all
``/sync/ratings`` at once, and no rating removal. For those the test uses pytrakt's own
HTTP client and pager (``trakt.core.api()`` and ``trakt.pagination.paginate``), so
headers, auth and paging are still pytrakt's.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import trakt
import trakt.core
from trakt.movies import Movie, dismiss_recommendation, get_recommended_movies, trending_movies
from trakt.pagination import paginate
from trakt.sync import get_watchlist
from trakt.tv import TVEpisode, TVShow, trending_shows
from trakt.users import User

from harness.trakt_sandbox.control_client import SandboxControl

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
USERNAME = "pytrakt_user"
USER_CODE = re.compile(r"user code is: (\w+)")

MATRIX, FIGHT_CLUB, INCEPTION = {"tmdb": 603}, {"tmdb": 550}, {"tmdb": 27205}
TRON_LEGACY, BLOODY_ACRES = {"tmdb": 20526}, {"tmdb": 126757}
BREAKING_BAD = {"tvdb": 81189}


class ApprovingConsole(io.StringIO):
    """Where pytrakt prints: whoever reads the user code approves it, at once."""

    def __init__(self, control: SandboxControl, username: str) -> None:
        super().__init__()
        self.control = control
        self.username = username
        self.approved: list[str] = []

    def write(self, text: str) -> int:
        match = USER_CODE.search(text)
        if match:
            self.control.approve_device(match.group(1), self.username)
            self.approved.append(match.group(1))
        return super().write(text)


@dataclass
class Pytrakt:
    """pytrakt pointed at the sandbox, and what its device login produced."""

    control: SandboxControl
    config_path: Path
    console: ApprovingConsole

    def stored(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text())

    def token(self) -> str:
        return self.stored()["OAUTH_TOKEN"]


def configure_pytrakt(monkeypatch: pytest.MonkeyPatch, url: str, config_path: Path) -> None:
    """Only configuration: pytrakt caches its client and config, so those caches reset too."""
    monkeypatch.setattr(trakt.core, "BASE_URL", url + "/")
    monkeypatch.setattr(trakt.core, "CONFIG_PATH", str(config_path))
    monkeypatch.setattr(trakt.core, "AUTH_METHOD", trakt.core.DEVICE_AUTH)
    for name in (
        "CLIENT_ID",
        "CLIENT_SECRET",
        "OAUTH_TOKEN",
        "OAUTH_REFRESH",
        "OAUTH_EXPIRES_AT",
        "APPLICATION_ID",
    ):
        monkeypatch.setattr(trakt.core, name, None)
    monkeypatch.setattr(trakt.core, "session", requests.Session())
    trakt.core.api.cache_clear()
    trakt.core.config.cache_clear()


@pytest.fixture()
def pytrakt_config(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxControl, sandbox_server: Any, tmp_path: Path
) -> Iterator[Path]:
    """pytrakt aimed at the sandbox, not yet signed in; everything restored afterwards."""
    config_path = tmp_path / "pytrakt.json"
    session = None
    try:
        configure_pytrakt(monkeypatch, sandbox_server.url, config_path)
        session = trakt.core.session
        yield config_path
    finally:
        if session is not None:
            session.close()
        trakt.core.api.cache_clear()
        trakt.core.config.cache_clear()


@pytest.fixture()
def signed_in(pytrakt_config: Path, sandbox: SandboxControl) -> Pytrakt:
    """pytrakt's documented device login, approved by the console it prints to."""
    sandbox.add_user(USERNAME)
    console = ApprovingConsole(sandbox, USERNAME)
    with contextlib.redirect_stdout(console):
        trakt.init(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, store=True)
    return Pytrakt(sandbox, pytrakt_config, console)


def test_device_login_stores_a_token_the_api_accepts(signed_in: Pytrakt) -> None:
    stored = signed_in.stored()
    assert len(signed_in.console.approved) == 1
    assert "successfully authenticated" in signed_in.console.getvalue()
    assert stored["CLIENT_ID"] == CLIENT_ID and stored["OAUTH_REFRESH"]
    # The sandbox itself says whose token pytrakt holds.
    answer = signed_in.control.api("GET", "/users/settings", token=signed_in.token())
    assert answer.status_code == 200 and answer.json()["user"]["username"] == USERNAME
    polls = signed_in.control.requests(path="/oauth/device/token")
    assert [entry["status"] for entry in polls] == [200]


def test_reads_trending_movies_and_shows(signed_in: Pytrakt) -> None:
    movies = trending_movies()
    expected = signed_in.control.api("GET", "/movies/trending").json()
    assert [(m.title, m.year, m.trakt, m.watchers) for m in movies] == [
        (i["movie"]["title"], i["movie"]["year"], i["movie"]["ids"]["trakt"], i["watchers"])
        for i in expected
    ]
    assert len(movies) == 100  # Trakt's default page since 2026 (CONTRACT 7.1)

    shows = trending_shows(limit=5)
    expected_shows = signed_in.control.api("GET", "/shows/trending", params={"limit": 5}).json()
    assert [(s.title, s.tvdb) for s in shows] == [
        (i["show"]["title"], i["show"]["ids"]["tvdb"]) for i in expected_shows
    ]


def test_reads_recommendations_shaped_by_the_users_ratings(signed_in: Pytrakt) -> None:
    signed_in.control.set_ratings(
        USERNAME,
        [{"rating": 10, "movie": {"ids": MATRIX}}, {"rating": 9, "movie": {"ids": INCEPTION}}],
    )
    recommended = get_recommended_movies()
    expected = signed_in.control.api(
        "GET", "/recommendations/movies", token=signed_in.token()
    ).json()
    assert [m.trakt for m in recommended] == [m["ids"]["trakt"] for m in expected]
    assert recommended, "a user with ratings gets recommendations"
    assert not {m.tmdb for m in recommended} & {603, 27205}, "rated titles are never offered"

    dismiss_recommendation(recommended[0].trakt)  # DELETE -> 204, which pytrakt accepts
    hidden = signed_in.control.hidden(USERNAME)
    assert [item["movie"]["ids"]["trakt"] for item in hidden] == [recommended[0].trakt]
    assert recommended[0].trakt not in {m.trakt for m in get_recommended_movies()}


def test_reads_the_watchlist(signed_in: Pytrakt) -> None:
    signed_in.control.set_watchlist(
        USERNAME,
        [
            {"movie": {"ids": TRON_LEGACY}},
            {"movie": {"ids": FIGHT_CLUB}},
            {"show": {"ids": BREAKING_BAD}},
            {"episode": {"season": 1, "number": 2}, "show": {"ids": BREAKING_BAD}},
        ],
    )
    items = get_watchlist()
    movies = sorted(m.tmdb for m in items if isinstance(m, Movie))
    shows = [s.title for s in items if isinstance(s, TVShow)]
    episodes = [(e.show, e.season, e.number) for e in items if isinstance(e, TVEpisode)]
    assert movies == [550, 20526]
    assert shows == ["Breaking Bad"]
    assert episodes == [("Breaking Bad", 1, 2)]
    assert len(items) == len(signed_in.control.watchlist(USERNAME))


def test_reads_the_whole_history_across_pages(signed_in: Pytrakt) -> None:
    plays = [
        {
            "movie": {"ids": MATRIX},
            "watched_at": f"2020-{1 + n // 28:02d}-{1 + n % 28:02d}T20:00:00.000Z",
        }
        for n in range(104)
    ]
    plays.append(
        {
            "episode": {"season": 1, "number": 1},
            "show": {"ids": BREAKING_BAD},
            "watched_at": "2021-05-05T21:00:00.000Z",
        }
    )
    signed_in.control.set_history(USERNAME, plays)
    history = paginate("sync/history")  # 105 plays: two pages of Trakt's default 100
    assert [item["id"] for item in history] == [
        item["id"] for item in signed_in.control.history(USERNAME)
    ]
    assert len(history) == 105
    assert history[0]["type"] == "episode" and history[0]["show"]["title"] == "Breaking Bad"
    pages = signed_in.control.requests(path="/sync/history")
    assert [entry["query"].get("page", "1") for entry in pages] == ["1", "2"]


def test_reads_ratings(signed_in: Pytrakt) -> None:
    signed_in.control.set_ratings(
        USERNAME,
        [
            {"rating": 8, "movie": {"ids": BLOODY_ACRES}},
            {"rating": 10, "show": {"ids": BREAKING_BAD}},
        ],
    )
    ratings = paginate("sync/ratings")
    assert sorted((r["type"], r[r["type"]]["title"], r["rating"]) for r in ratings) == [
        ("movie", "100 Bloody Acres", 8),
        ("show", "Breaking Bad", 10),
    ]


def test_reads_ratings_through_the_user_object(signed_in: Pytrakt) -> None:
    """pytrakt's documented reader: ``User('me').get_ratings(type)``, on ``/users/...``."""
    signed_in.control.set_ratings(USERNAME, [{"rating": 8, "movie": {"ids": BLOODY_ACRES}}])
    ratings = User("me").get_ratings("movies")
    assert [(r["movie"]["ids"]["tmdb"], r["rating"]) for r in ratings] == [(126757, 8)]
    assert User("me").get_ratings("movies", rating=9) == []


def test_adds_and_removes_a_rating(signed_in: Pytrakt) -> None:
    control = signed_in.control
    movie = next(m for m in trending_movies() if m.tmdb is not None)
    added = movie.rate(9)
    assert added["added"]["movies"] == 1
    assert [(r["movie"]["ids"]["trakt"], r["rating"]) for r in control.ratings(USERNAME)] == [
        (movie.trakt, 9)
    ]

    control.advance_clock(1.5)  # Trakt allows one write per second per user
    removed = trakt.core.api().post("sync/ratings/remove", movie.to_json())
    assert removed["deleted"]["movies"] == 1
    assert control.ratings(USERNAME) == []
    writes = control.requests(method="POST", path_prefix="/sync/ratings")
    assert [(entry["path"], entry["status"]) for entry in writes] == [
        ("/sync/ratings", 201),
        ("/sync/ratings/remove", 200),
    ]


def test_refreshes_an_expiring_token_by_itself(
    pytrakt_config: Path, sandbox: SandboxControl
) -> None:
    """pytrakt refreshes ten minutes before expiry; the sandbox rotates the refresh token."""
    tokens = sandbox.issue_tokens(USERNAME, expires_in=120)
    pytrakt_config.write_text(
        json.dumps(
            {
                "CLIENT_ID": CLIENT_ID,
                "CLIENT_SECRET": CLIENT_SECRET,
                "OAUTH_TOKEN": tokens["access_token"],
                "OAUTH_REFRESH": tokens["refresh_token"],
                "OAUTH_EXPIRES_AT": tokens["created_at"] + tokens["expires_in"],
            }
        )
    )
    assert get_watchlist() == []
    stored = json.loads(pytrakt_config.read_text())
    assert stored["OAUTH_REFRESH"] != tokens["refresh_token"]
    assert stored["OAUTH_EXPIRES_AT"] > tokens["created_at"] + tokens["expires_in"]
    calls = [(entry["path"], entry["status"]) for entry in sandbox.requests()]
    assert calls == [("/oauth/token", 200), ("/sync/watchlist", 200)]
    reused = sandbox.api(
        "POST",
        "/oauth/token",
        json={
            "refresh_token": tokens["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
            "grant_type": "refresh_token",
        },
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

"""Every recorded Trakt body in ``tests/samples/trakt-api`` has a sandbox twin of the same shape.

The samples are real captures and Trakt's own documentation examples (see their
``SOURCE.md``). For each one this module makes the matching real request against the
sandbox over loopback HTTP, after seeding the user's lists through the control API so that
no list is empty, and walks the sample and the answer side by side. The parametrisation
is over *every* ``*.json`` in the folder, so a new sample without a request in
``SCENARIOS`` fails instead of being silently ignored.

Rules of the walk (``sample`` is the recorded value, ``answer`` the sandbox's):

* Objects: every key of the sample must be in the answer, at every level. Extra keys in
  the answer are fine: Trakt adds keys over time and clients must ignore them
  (CONTRACT section 3). The only keys allowed to be missing are listed in ``DROPPED``,
  each with the source saying the current API no longer sends it; every test prints the
  dropped keys it skipped.
* Types are JSON types: object, list, str, bool, null, and two number types. A number
  written with a fraction in the sample (``"rating": 8.30142``, a float by contract
  section 7.3) needs a float in the answer, and an integer needs an integer (ids, counts,
  ``rating`` 1-10 of sync items, ``expires_in``...). ``true`` is never a number.
* ``null`` in the sample only says the key exists: any answer type matches it.
  ``null`` in the answer where the sample has a value is accepted only for keys the
  contract documents as nullable (``NULLABLE``).
* Lists: a non-empty sample list needs a non-empty answer list. Each sample element is
  compared with every answer element of the same kind (the set of ``movie``/``show``/
  ``season``/``episode`` keys it carries, so that a mixed ``/sync/ratings`` answer is
  checked movie against movie), and at least one answer element of that kind must exist.
  An empty sample list (``"shows": []`` in ``not_found``) says nothing about elements.
* The two ``x_ratelimit_*.json`` samples are values of the ``X-Ratelimit`` header:
  the sandbox is pushed over the matching bucket and its 429's header is walked.

Failures name the answer path, e.g. ``$[0].movie.ids.tmdb: expected int, got str``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.services import WSGIServerThread
from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl, api_headers

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "trakt-api"
SAMPLE_FILES = sorted(path.name for path in SAMPLES.glob("*.json"))

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
OOB = "urn:ietf:wg:oauth:2.0:oob"
USERNAME = "sample_walker"
MISSING_IMDB = "tt0000111"  # Trakt's docs use it for the item that is never found

# Keys the samples carry that the current API no longer sends: "path pattern" -> source.
# Patterns use fnmatch over paths whose list indices are written ``[*]``.
DROPPED: dict[str, str] = {
    "*.ids.tvrage": "CONTRACT section 5 and samples/SOURCE.md caveats: tvrage appears in "
    "pre-2018 captures but is gone from current responses",
    "$.movies.recommendations_at": "CONTRACT section 6.1: the 2026 last_activities shape "
    "has favorited_at in place of the 2023 recommendations_at",
    "$.shows.recommendations_at": "CONTRACT section 6.1: the 2026 last_activities shape "
    "has favorited_at in place of the 2023 recommendations_at",
    "$.recommendations": "CONTRACT section 6.1: the 2026 last_activities shape has "
    "favorites in place of the 2023 recommendations group",
}

# Keys whose value may be null although the sample shows a value: key -> source.
NULLABLE: dict[str, str] = {
    "imdb": "CONTRACT section 5: imdb is str or null",
    "tmdb": "CONTRACT section 5: tmdb is int or null",
    "tvdb": "CONTRACT section 5: tvdb is int or null",
    "notes": "CONTRACT section 6.6: watchlist notes are a string or null",
    "reset_at": "CONTRACT section 6.7: reset_at is null or a time",
}

MEDIA_KEYS = ("movie", "show", "season", "episode")


# -- the walk ---------------------------------------------------------------------------
def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def kind_of(element: Any) -> tuple[str, ...]:
    """Which media an element of a list is about; bare objects are all one kind."""
    if not isinstance(element, dict):
        return ()
    return tuple(key for key in MEDIA_KEYS if key in element)


def pattern_path(path: str) -> str:
    """``$[3].movie`` -> ``$[*].movie``: the form ``DROPPED`` patterns are written in."""
    out, depth = [], 0
    for char in path:
        if char == "[":
            depth += 1
            out.append("[*]")
        elif char == "]":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def dropped_reason(path: str) -> str | None:
    plain = pattern_path(path)
    for pattern, reason in DROPPED.items():
        if fnmatch.fnmatchcase(plain, pattern):
            return reason
    return None


@dataclass
class Walk:
    """The outcome of comparing one sample with one answer."""

    problems: list[str] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)

    def compare(self, sample: Any, answer: Any, path: str = "$") -> None:
        sample_type, answer_type = json_type(sample), json_type(answer)
        if sample_type == "null":
            return
        if answer_type == "null":
            key = path.rsplit(".", 1)[-1]
            if key not in NULLABLE:
                self.problems.append(
                    f"{path}: expected {sample_type}, got null (not nullable by the contract)"
                )
            return
        if sample_type != answer_type:
            self.problems.append(f"{path}: expected {sample_type}, got {answer_type}")
            return
        if sample_type == "object":
            self._compare_object(sample, answer, path)
        elif sample_type == "list":
            self._compare_list(sample, answer, path)

    def _compare_object(self, sample: dict[str, Any], answer: dict[str, Any], path: str) -> None:
        for key, value in sample.items():
            child = f"{path}.{key}"
            if key in answer:
                self.compare(value, answer[key], child)
            elif dropped_reason(child):
                self.dropped.add(pattern_path(child))
            else:
                self.problems.append(f"{child}: missing (the sample has a {json_type(value)})")

    def _compare_list(self, sample: list[Any], answer: list[Any], path: str) -> None:
        if not sample:
            return
        if not answer:
            self.problems.append(
                f"{path}: expected a non-empty list like the sample's "
                f"{len(sample)} element(s), got []"
            )
            return
        for sample_index, element in enumerate(sample):
            kind = kind_of(element)
            peers = [(i, item) for i, item in enumerate(answer) if kind_of(item) == kind]
            if not peers:
                self.problems.append(
                    f"{path}: no element with keys {list(kind)} like "
                    f"sample element [{sample_index}]"
                )
            for index, item in peers:
                self.compare(element, item, f"{path}[{index}]")

    def report(self) -> str:
        """The distinct problems (list indices folded), each once, first 40 of them."""
        seen: dict[str, str] = {}
        for problem in self.problems:
            seen.setdefault(
                pattern_path(problem.split(":", 1)[0]) + problem.split(":", 1)[1], problem
            )
        lines = list(seen.values())
        more = f"\n... and {len(lines) - 40} more" if len(lines) > 40 else ""
        return "\n".join(lines[:40]) + more


# -- talking to the sandbox ------------------------------------------------------------
class World:
    """One test's user, token and HTTP session against the sandbox, plus seeding helpers."""

    def __init__(self, control: SandboxControl, url: str) -> None:
        self.control = control
        self.url = url
        self.http = requests.Session()
        self.token = control.issue_tokens(USERNAME)["access_token"]
        # Shapes, not limits, are under test here: a scenario's write must not meet a 429
        # left by another's. The two rate-limit scenarios set the limits they need.
        control.set_limits(
            writes_per_second=1000, get_per_5min=100_000, unauthed_get_per_5min=100_000
        )
        self._catalogue: dict[str, Any] | None = None

    def episode_ids(
        self, show_ids: dict[str, Any], season_number: int, number: int
    ) -> dict[str, Any]:
        """An episode's own ids, read from the sandbox's catalogue (its Trakt ids are its own)."""
        if self._catalogue is None:
            self._catalogue = self.control.catalogue()
        for entry in self._catalogue["shows"]:
            if all(entry["ids"].get(key) == value for key, value in show_ids.items()):
                for season_entry in entry["seasons"]:
                    for item in season_entry["episodes"]:
                        if (item["season"], item["number"]) == (season_number, number):
                            return item["ids"]
        raise LookupError(f"no episode {season_number}x{number} of {show_ids} in the sandbox")

    def call(
        self,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200,),
        auth: bool = True,
        body: Any = None,
        params: dict[str, str] | None = None,
        api: bool = True,
        token: str | None = None,
    ) -> requests.Response:
        headers = (
            api_headers(token or (self.token if auth else None))
            if api
            else {"Content-Type": "application/json", "User-Agent": "sample-walker/1.0"}
        )
        response = self.http.request(
            method,
            self.url + path,
            headers=headers,
            params=params,
            timeout=10,
            data=None if body is None else json.dumps(body),
        )
        assert response.status_code in expect, (
            f"{method} {path}: status {response.status_code}, expected {expect}: "
            f"{response.text[:500]}"
        )
        return response

    def get(self, path: str, auth: bool = True, **params: str) -> Any:
        return self.call("GET", path, auth=auth, params=params or None).json()

    def post(self, path: str, body: Any, expect: tuple[int, ...]) -> Any:
        return self.call("POST", path, body=body, expect=expect).json()

    def oauth(self, path: str, body: dict[str, Any], expect: tuple[int, ...] = (200,)) -> Any:
        response = self.call("POST", path, body=body, expect=expect, api=False)
        return response.json()


# Titles of the seeded catalogue, named by their external ids (real TMDB/TVDB numbers).
MATRIX, FIGHT_CLUB, INCEPTION = {"tmdb": 603}, {"tmdb": 550}, {"tmdb": 27205}
TRON_LEGACY, BLOODY_ACRES = {"tmdb": 20526}, {"tmdb": 126757}
BREAKING_BAD, GAME_OF_THRONES = {"tvdb": 81189}, {"tvdb": 121361}


def movie(ids: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"movie": {"ids": ids}, **extra}


def show(ids: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"show": {"ids": ids}, **extra}


def season(show_ids: dict[str, Any], number: int, **extra: Any) -> dict[str, Any]:
    return {"season": {"number": number}, "show": {"ids": show_ids}, **extra}


def episode(
    show_ids: dict[str, Any], season_number: int, number: int, **extra: Any
) -> dict[str, Any]:
    return {
        "episode": {"season": season_number, "number": number},
        "show": {"ids": show_ids},
        **extra,
    }


def seed_ratings(world: World) -> None:
    world.control.set_ratings(
        USERNAME,
        [
            movie(MATRIX, rating=8, rated_at="2015-01-28T02:26:37.000Z"),
            movie(BLOODY_ACRES, rating=6),
            movie(FIGHT_CLUB, rating=9),
            show(BREAKING_BAD, rating=10),
            show(GAME_OF_THRONES, rating=7),
            season(BREAKING_BAD, 1, rating=9),
            season(GAME_OF_THRONES, 2, rating=8),
            episode(BREAKING_BAD, 1, 1, rating=8),
            episode(BREAKING_BAD, 1, 2, rating=7),
        ],
    )


def seed_history(world: World) -> None:
    world.control.set_history(
        USERNAME,
        [
            movie(MATRIX, watched_at="2014-03-31T09:28:53.000Z"),
            movie(MATRIX, watched_at="2015-06-01T20:00:00.000Z"),
            movie(INCEPTION, watched_at="2016-01-02T21:00:00.000Z"),
            movie(FIGHT_CLUB, watched_at="2016-02-03T22:00:00.000Z"),
            episode(BREAKING_BAD, 1, 1, watched_at="2016-03-01T20:00:00.000Z"),
            episode(BREAKING_BAD, 1, 2, watched_at="2016-03-02T20:00:00.000Z"),
            episode(GAME_OF_THRONES, 1, 1, watched_at="2016-04-01T20:00:00.000Z"),
        ],
    )


def seed_watchlist(world: World) -> None:
    world.control.set_watchlist(
        USERNAME,
        [
            movie(TRON_LEGACY, listed_at="2015-03-01T10:00:00.000Z"),
            movie(INCEPTION, notes="see it on a big screen"),
            show(GAME_OF_THRONES),
            season(BREAKING_BAD, 2),
            episode(BREAKING_BAD, 4, 1),
            episode(GAME_OF_THRONES, 2, 1),
        ],
    )


def sync_body(**arrays: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A sync POST body: the four arrays always present, as clients send them."""
    return {name: arrays.get(name, []) for name in ("movies", "shows", "seasons", "episodes")}


# -- one request per sample --------------------------------------------------------------
def discovery(path: str, **params: str) -> Callable[[World], Any]:
    return lambda world: world.get(path, auth=False, **params)


def seeded_get(seed: Callable[[World], None], path: str, **params: str) -> Callable[[World], Any]:
    def run(world: World) -> Any:
        seed(world)
        return world.get(path, **params)

    return run


def device_code(world: World) -> Any:
    return world.oauth("/oauth/device/code", {"client_id": CLIENT_ID})


def device_token(world: World) -> Any:
    codes = device_code(world)
    world.control.approve_device(codes["user_code"], USERNAME)
    return world.oauth(
        "/oauth/device/token",
        {"code": codes["device_code"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )


def refresh_body(refresh_token: str) -> dict[str, str]:
    return {
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": OOB,
        "grant_type": "refresh_token",
    }


def token_refresh(world: World) -> Any:
    tokens = world.control.issue_tokens(USERNAME)
    return world.oauth("/oauth/token", refresh_body(tokens["refresh_token"]))


def token_invalid_grant(world: World) -> Any:
    return world.oauth("/oauth/token", refresh_body("0" * 64), expect=(400,))


def token_invalid_grant_legacy(world: World) -> Any:
    """The pre-2026 Doorkeeper 401 is a configuration switch: a second sandbox has it on."""
    with WSGIServerThread(create_app({"SANDBOX_LEGACY_OAUTH_ERRORS": True})) as legacy:
        response = world.http.post(
            legacy.url + "/oauth/token",
            data=json.dumps(refresh_body("0" * 64)),
            headers={"Content-Type": "application/json", "User-Agent": "sample-walker/1.0"},
            timeout=10,
        )
    assert response.status_code == 401, response.text
    return response.json()


def revoke(world: World) -> Any:
    tokens = world.control.issue_tokens(USERNAME)
    answer = world.oauth(
        "/oauth/revoke",
        {"token": tokens["access_token"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    world.call("GET", "/sync/last_activities", token=tokens["access_token"], expect=(401,))
    return answer


def ratings_add(world: World) -> Any:
    return world.post(
        "/sync/ratings",
        sync_body(
            movies=[{"rating": 9, "ids": MATRIX}, {"rating": 10, "ids": {"imdb": MISSING_IMDB}}],
            shows=[
                {"rating": 10, "ids": BREAKING_BAD},
                {"ids": GAME_OF_THRONES, "seasons": [{"number": 1, "rating": 9}]},
            ],
            episodes=[{"rating": 7, "ids": world.episode_ids(BREAKING_BAD, 1, 3)}],
        ),
        expect=(201,),
    )


def ratings_remove(world: World) -> Any:
    seed_ratings(world)
    return world.post(
        "/sync/ratings/remove",
        sync_body(
            movies=[{"ids": MATRIX}, {"ids": {"imdb": MISSING_IMDB}}],
            shows=[{"ids": BREAKING_BAD}],
            episodes=[{"ids": world.episode_ids(BREAKING_BAD, 1, 1)}],
        ),
        expect=(200,),
    )


def history_add(world: World) -> Any:
    return world.post(
        "/sync/history",
        sync_body(
            movies=[
                {"ids": MATRIX, "watched_at": "2016-06-01T20:00:00.000Z"},
                {"ids": {"imdb": MISSING_IMDB}},
            ],
            episodes=[{"ids": world.episode_ids(BREAKING_BAD, 1, 1)}],
        ),
        expect=(200, 201),
    )


def history_remove(world: World) -> Any:
    seed_history(world)
    return world.post(
        "/sync/history/remove",
        {
            **sync_body(
                movies=[{"ids": INCEPTION}, {"ids": {"imdb": MISSING_IMDB}}],
                shows=[{"ids": BREAKING_BAD}],
            ),
            "ids": [1, 2],  # never issued: the sandbox's history ids start at 10**9
        },
        expect=(200,),
    )


def watchlist_add(world: World) -> Any:
    return world.post(
        "/sync/watchlist",
        sync_body(
            movies=[{"ids": INCEPTION}, {"ids": {"imdb": MISSING_IMDB}}],
            shows=[{"ids": BREAKING_BAD}],
            episodes=[{"ids": world.episode_ids(GAME_OF_THRONES, 1, 1)}],
        ),
        expect=(201,),
    )


def watchlist_remove(world: World) -> Any:
    seed_watchlist(world)
    return world.post(
        "/sync/watchlist/remove",
        sync_body(
            movies=[{"ids": TRON_LEGACY}, {"ids": {"imdb": MISSING_IMDB}}],
            shows=[{"ids": GAME_OF_THRONES}],
        ),
        expect=(200,),
    )


def rate_limited_unauthed_get(world: World) -> Any:
    """Over ``UNAUTHED_API_GET_LIMIT``: public GETs with the API key and no token."""
    world.control.set_limits(unauthed_get_per_5min=2)
    for _ in range(2):
        world.call("GET", "/movies/trending", auth=False)
    return rate_limit_header(world.call("GET", "/movies/trending", auth=False, expect=(429,)))


def rate_limited_write_burst(world: World) -> Any:
    """Over ``AUTHED_API_POST_LIMIT``: a second write inside the same second."""
    world.control.set_limits(writes_per_second=1)
    body = sync_body(movies=[{"ids": MATRIX, "rating": 8}])
    world.call("POST", "/sync/ratings", body=body, expect=(201,))
    return rate_limit_header(world.call("POST", "/sync/ratings", body=body, expect=(429,)))


def rate_limit_header(response: requests.Response) -> Any:
    retry_after = response.headers.get("Retry-After", "")
    assert retry_after.isdigit() and int(retry_after) >= 1, (
        f"Retry-After must be whole seconds (CONTRACT section 9), got {retry_after!r}"
    )
    assert "X-Ratelimit" in response.headers, "a 429 from the API carries X-Ratelimit"
    return json.loads(response.headers["X-Ratelimit"])


SCENARIOS: dict[str, Callable[[World], Any]] = {
    "movies_popular.json": discovery("/movies/popular", extended="full"),
    "movies_popular_min.json": discovery("/movies/popular"),
    "movies_trending.json": discovery("/movies/trending", extended="full"),
    "movies_trending_min.json": discovery("/movies/trending"),
    "shows_popular.json": discovery("/shows/popular", extended="full"),
    "shows_popular_min.json": discovery("/shows/popular", page="1", limit="10"),
    "shows_trending.json": discovery("/shows/trending", extended="full"),
    "shows_trending_min.json": discovery("/shows/trending", page="1", limit="10"),
    "recommendations_movies.json": seeded_get(seed_ratings, "/recommendations/movies"),
    "recommendations_shows.json": seeded_get(
        seed_ratings, "/recommendations/shows", page="1", limit="10"
    ),
    "oauth_device_code.json": device_code,
    "oauth_device_token.json": device_token,
    "oauth_token.json": token_refresh,
    "oauth_token_error_invalid_grant.json": token_invalid_grant,
    "oauth_token_error_legacy_401.json": token_invalid_grant_legacy,
    "oauth_revoke_response.json": revoke,
    "sync_last_activities.json": seeded_get(seed_ratings, "/sync/last_activities"),
    "sync_last_activities_2023.json": seeded_get(seed_watchlist, "/sync/last_activities"),
    "sync_ratings.json": seeded_get(seed_ratings, "/sync/ratings"),
    "sync_ratings_movies.json": seeded_get(seed_ratings, "/sync/ratings/movies"),
    "sync_ratings_movies_8.json": seeded_get(seed_ratings, "/sync/ratings/movies/8"),
    "sync_ratings_shows.json": seeded_get(seed_ratings, "/sync/ratings/shows"),
    "sync_ratings_seasons.json": seeded_get(seed_ratings, "/sync/ratings/seasons"),
    "sync_ratings_episodes.json": seeded_get(seed_ratings, "/sync/ratings/episodes"),
    "sync_ratings_add_response.json": ratings_add,
    "sync_ratings_remove_response.json": ratings_remove,
    "sync_history.json": seeded_get(seed_history, "/sync/history"),
    "sync_history_movies.json": seeded_get(seed_history, "/sync/history/movies"),
    "sync_history_shows.json": seeded_get(seed_history, "/sync/history/shows"),
    "sync_history_add_response.json": history_add,
    "sync_history_remove_response.json": history_remove,
    "sync_watched_movies.json": seeded_get(seed_history, "/sync/watched/movies"),
    # Seasons only with extended=progress since 2026-06-30 (CONTRACT 6.7).
    "sync_watched_shows.json": seeded_get(seed_history, "/sync/watched/shows", extended="progress"),
    "sync_watched_shows_noseasons.json": seeded_get(
        seed_history, "/sync/watched/shows", extended="noseasons"
    ),
    "sync_watchlist.json": seeded_get(seed_watchlist, "/sync/watchlist"),
    "sync_watchlist_movies.json": seeded_get(seed_watchlist, "/sync/watchlist/movies"),
    "sync_watchlist_episodes.json": seeded_get(seed_watchlist, "/sync/watchlist/episodes"),
    "sync_watchlist_add_response.json": watchlist_add,
    "sync_watchlist_remove_response.json": watchlist_remove,
    "x_ratelimit_unauthed_get_docs.json": rate_limited_unauthed_get,
    "x_ratelimit_authed_post_observed.json": rate_limited_write_burst,
}


# -- the tests ---------------------------------------------------------------------------
def load_sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def all_sample_paths() -> Iterator[str]:
    """Every key path (list indices folded) that occurs in any sample."""

    def walk(value: Any, path: str) -> Iterator[str]:
        yield pattern_path(path)
        if isinstance(value, dict):
            for key, child in value.items():
                yield from walk(child, f"{path}.{key}")
        elif isinstance(value, list):
            for child in value:
                yield from walk(child, f"{path}[0]")

    for name in SAMPLE_FILES:
        yield from walk(load_sample(name), "$")


def test_samples_are_there_and_each_has_a_request() -> None:
    """Guards the parametrisation: no samples means no conformance, not a green run."""
    assert SAMPLES.is_dir(), f"the Trakt samples are missing: {SAMPLES}"
    assert SAMPLE_FILES, f"no *.json in {SAMPLES}"
    assert set(SCENARIOS) <= set(SAMPLE_FILES), (
        f"requests for samples that no longer exist: {sorted(set(SCENARIOS) - set(SAMPLE_FILES))}"
    )


def test_every_dropped_field_occurs_in_a_sample() -> None:
    """A ``DROPPED`` entry no sample carries would be an unexplained hole in the walk."""
    paths = set(all_sample_paths())
    unused = [
        pattern
        for pattern in DROPPED
        if not any(fnmatch.fnmatchcase(path, pattern) for path in paths)
    ]
    assert not unused, f"DROPPED patterns that match no sample key: {unused}"


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sandbox_answers_in_the_shape_of_the_sample(
    name: str,
    sandbox: SandboxControl,
    sandbox_server: Any,
    record_property: Callable[[str, Any], None],
) -> None:
    scenario = SCENARIOS.get(name)
    assert scenario is not None, (
        f"{name} has no request in SCENARIOS: say which sandbox call answers it"
    )
    world = World(sandbox, sandbox_server.url)
    try:
        answer = scenario(world)
    finally:
        world.http.close()
    walk = Walk()
    walk.compare(load_sample(name), answer)
    if walk.dropped:
        skipped = sorted(walk.dropped)
        record_property("dropped_fields", ", ".join(skipped))
        print(
            f"{name}: keys the current API dropped, not required: "
            + "; ".join(
                f"{path} ({dropped_reason(path.replace('[*]', '[0]'))})" for path in skipped
            )
        )
    assert not walk.problems, (
        f"the sandbox's answer differs from {name} in shape:\n{walk.report()}\n"
        f"answer (first 1500 chars): {json.dumps(answer)[:1500]}"
    )


def test_rate_limit_header_names_the_bucket(sandbox: SandboxControl, sandbox_server: Any) -> None:
    """Beyond shape: each 429 names the bucket the sample names, with its period."""
    world = World(sandbox, sandbox_server.url)
    try:
        for name, scenario in (
            ("x_ratelimit_unauthed_get_docs.json", rate_limited_unauthed_get),
            ("x_ratelimit_authed_post_observed.json", rate_limited_write_burst),
        ):
            sample, header = load_sample(name), scenario(world)
            assert (header["name"], header["period"]) == (sample["name"], sample["period"]), (
                f"{name}: {header}"
            )
            assert header["remaining"] == 0, header
    finally:
        world.http.close()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            [{"watchers": 1, "movie": {"title": "T", "year": 1, "ids": {"trakt": 1, "tmdb": "9"}}}],
            "$[0].movie.ids.tmdb: expected int, got str",
        ),
        (
            [{"watchers": 1, "movie": {"title": "T", "ids": {"trakt": 1, "tmdb": 9}}}],
            "$[0].movie.year: missing (the sample has a int)",
        ),
        (
            [
                {
                    "watchers": None,
                    "movie": {"title": "T", "year": 1, "ids": {"trakt": 1, "tmdb": 9}},
                }
            ],
            "$[0].watchers: expected int, got null (not nullable by the contract)",
        ),
        (
            [{"watchers": 1.5, "movie": {"title": "T", "year": 1, "ids": {"trakt": 1, "tmdb": 9}}}],
            "$[0].watchers: expected int, got float",
        ),
        (
            [{"watchers": 1, "show": {"title": "T", "year": 1, "ids": {"trakt": 1}}}],
            "$: no element with keys ['movie'] like sample element [0]",
        ),
        ([], "$: expected a non-empty list like the sample's 1 element(s), got []"),
    ],
)
def test_walk_names_the_first_wrong_path(answer: Any, expected: str) -> None:
    """The walk itself: each rule of the module docstring fails with a readable path."""
    sample = [
        {
            "watchers": 3,
            "movie": {
                "title": "Tron",
                "year": 1982,
                "ids": {"trakt": 1, "tmdb": 97, "tvrage": None},
            },
        }
    ]
    walk = Walk()
    walk.compare(sample, answer)
    assert walk.problems[:1] == [expected]


def test_walk_accepts_extras_nullable_ids_and_dropped_keys() -> None:
    sample = {"rating": 8.1, "ids": {"trakt": 1, "imdb": "tt1", "tvrage": 5}, "gone": None}
    walk = Walk()
    walk.compare(
        sample,
        {"rating": 7.5, "ids": {"trakt": 2, "imdb": None, "plex": {}}, "gone": 3, "new": True},
    )
    assert walk.problems == []
    assert walk.dropped == {"$.ids.tvrage"}

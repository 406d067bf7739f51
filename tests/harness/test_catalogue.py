"""Schema and content checks for the shared title catalogue (harness/catalogue)."""

from __future__ import annotations

import glob
import json
import re
from pathlib import Path

import pytest

from harness.catalogue import load_catalogue, movies, shows

IMDB_RE = re.compile(r"^tt\d{7,8}$")
GENRE_RE = re.compile(r"^[a-z]+(-[a-z]+)*$")
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "trakt-api"

# (title, year, ids, in_library) that other parts of the suite rely on.
NAMED_MOVIES = [
    ("The Matrix", 1999, {"tmdb": 603, "imdb": "tt0133093"}, True),
    ("Fight Club", 1999, {"tmdb": 550, "imdb": "tt0137523"}, True),
    ("Inception", 2010, {"tmdb": 27205, "imdb": "tt1375666"}, True),
    ("Pulp Fiction", 1994, {"tmdb": 680, "imdb": "tt0110912"}, True),
    ("Forrest Gump", 1994, {"tmdb": 13, "imdb": "tt0109830"}, True),
    ("The Shawshank Redemption", 1994, {"tmdb": 278, "imdb": "tt0111161"}, True),
    ("Heat", 1995, {"tmdb": 949, "imdb": "tt0113277"}, True),
    ("Batman Begins", 2005, {"tmdb": 272, "imdb": "tt0372784"}, True),
    ("TRON: Legacy", 2010, {"tmdb": 20526, "imdb": "tt1104001"}, False),
    ("100 Bloody Acres", 2012, {"tmdb": 126757, "imdb": "tt2290065"}, False),
]
NAMED_SHOWS = [
    ("Breaking Bad", 2008, {"tvdb": 81189, "tmdb": 1396, "imdb": "tt0903747"}, True),
    ("Game of Thrones", 2011, {"tvdb": 121361, "tmdb": 1399, "imdb": "tt0944947"}, True),
]


def _check_common(item: dict, id_keys: tuple[str, ...]) -> None:
    assert isinstance(item["title"], str) and item["title"].strip() == item["title"] != ""
    assert isinstance(item["year"], int) and 1900 <= item["year"] <= 2030
    assert set(item["ids"]) == set(id_keys)
    for key in id_keys:
        if key == "imdb":
            assert IMDB_RE.match(item["ids"]["imdb"]), item
        else:
            assert type(item["ids"][key]) is int and item["ids"][key] > 0, item
    genres = item["genres"]
    assert isinstance(genres, list) and genres, item
    assert all(isinstance(g, str) and GENRE_RE.match(g) for g in genres), item
    assert len(set(genres)) == len(genres), item
    assert type(item["in_library"]) is bool


def test_movies_schema():
    for movie in movies():
        assert set(movie) == {"title", "year", "ids", "genres", "runtime", "in_library"}
        _check_common(movie, ("tmdb", "imdb"))
        assert type(movie["runtime"]) is int and 30 <= movie["runtime"] <= 300, movie


def test_shows_schema():
    for show in shows():
        assert set(show) == {
            "title",
            "year",
            "ids",
            "genres",
            "network",
            "seasons",
            "in_library",
        }
        _check_common(show, ("tvdb", "tmdb", "imdb"))
        assert isinstance(show["network"], str) and show["network"]
        seasons = show["seasons"]
        assert 1 <= len(seasons) <= 10, show["title"]
        assert [s["number"] for s in seasons] == list(range(1, len(seasons) + 1))
        for season in seasons:
            assert set(season) == {"number", "episodes"}
            assert type(season["episodes"]) is int and 1 <= season["episodes"] <= 40


def test_sizes():
    assert len(movies()) >= 250
    assert len(shows()) >= 50


@pytest.mark.parametrize(
    "kind,id_keys", [("movies", ("tmdb", "imdb")), ("shows", ("tvdb", "tmdb", "imdb"))]
)
def test_ids_and_titles_unique(kind, id_keys):
    items = load_catalogue()[kind]
    for key in id_keys:
        values = [item["ids"][key] for item in items]
        assert len(values) == len(set(values)), f"duplicate {kind} {key}"
    keys = [(item["title"], item["year"]) for item in items]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("title,year,ids,in_library", NAMED_MOVIES)
def test_named_movies(title, year, ids, in_library):
    found = [m for m in movies() if m["title"] == title and m["year"] == year]
    assert len(found) == 1
    assert found[0]["ids"] == ids
    assert found[0]["in_library"] is in_library


@pytest.mark.parametrize("title,year,ids,in_library", NAMED_SHOWS)
def test_named_shows(title, year, ids, in_library):
    found = [s for s in shows() if s["title"] == title and s["year"] == year]
    assert len(found) == 1
    assert found[0]["ids"] == ids
    assert found[0]["in_library"] is in_library


def test_library_split():
    for items in (movies(), shows()):
        inside = sum(item["in_library"] for item in items)
        share = inside / len(items)
        assert 0.7 <= share <= 0.9, share


def _sample_items() -> list[dict]:
    found: list[dict] = []

    def walk(node):
        if isinstance(node, dict):
            ids = node.get("ids")
            if isinstance(ids, dict) and "title" in node and node.get("year"):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(glob.glob(str(SAMPLES / "*.json"))):
        walk(json.loads(Path(path).read_text(encoding="utf-8")))
    return found


def test_sample_titles_are_in_catalogue_with_same_ids():
    """Every movie and show in the Trakt sample bodies is here with the same ids, so the
    sandbox can serve those bodies and the host can match them."""
    by_key = {
        (kind, item["title"], item["year"]): item
        for kind in ("movies", "shows")
        for item in load_catalogue()[kind]
    }
    samples = _sample_items()
    assert samples
    for node in samples:
        kind = "shows" if "tvdb" in node["ids"] else "movies"
        item = by_key.get((kind, node["title"], node["year"]))
        assert item is not None, (kind, node["title"], node["year"])
        for key in ("tvdb", "tmdb", "imdb"):
            if node["ids"].get(key):
                assert item["ids"][key] == node["ids"][key], (node["title"], key)

"""The one title catalogue that the Trakt sandbox and the reference host both read.

Why it exists: the plugin matches a Trakt item to a library item by its external ids
(tmdb, imdb, tvdb). If the sandbox and the host each made up their own titles, the ids
would never meet and every sync, rating and recommendation test would test nothing. So both
load ``titles.json`` from here: real titles with their real ids, where ``in_library`` says
whether the host's library holds the title (the rest appear only on the Trakt side).

Where the data comes from is recorded in the file's ``about`` field.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

TITLES_PATH = Path(__file__).with_name("titles.json")


@functools.cache
def load_catalogue() -> dict[str, Any]:
    """The parsed ``titles.json``; cached, so callers must not mutate it."""
    with TITLES_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


def movies() -> list[dict[str, Any]]:
    """Every movie: title, year, ids {tmdb, imdb}, genres, runtime, in_library."""
    return load_catalogue()["movies"]


def shows() -> list[dict[str, Any]]:
    """Every show: title, year, ids {tvdb, tmdb, imdb}, genres, network, seasons, in_library."""
    return load_catalogue()["shows"]

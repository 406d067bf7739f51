"""Media keys: one string per title, the same for a library item and a Trakt candidate.

Ratings, watch histories, hidden titles and Trakt's lists all name titles by ids, and
not always by the same ones: the library knows TMDB/IMDB/TVDB ids, Trakt adds its own.
The canonical key takes the first id present in the order tmdb, imdb, tvdb, trakt
("movie:tmdb:603"), which every source of a title agrees on in practice. Matching
(watched, rated, hidden) compares every id a title has (``alias_keys``), so a title the
library knows by IMDB id alone still matches Trakt's entry that also has a TMDB id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from aperture_trakt_plugin.host import ExternalIds, MediaKind

ORDER = ("tmdb", "imdb", "tvdb", "trakt")
NUMERIC_IDS = ("tmdb", "tvdb", "trakt")
#: What an id may look like. Ids arrive from forms and from Trakt's answers and some end
#: up in a Trakt URL path, where ``../../checkin`` would name another endpoint; anything
#: else is no id at all.
IMDB_ID = re.compile(r"tt\d{1,12}")
SLUG = re.compile(r"[a-z0-9-]{1,200}")
MAX_NUMERIC_ID = 2**31 - 1  # what the id columns (INTEGER) hold

MSG_BAD_ID = "{name} {value!r} is not a valid id"
#: Discovery works on titles: an episode or a season stands for its show.
TITLE_KIND: dict[str, str] = {"movie": "movie", "show": "show", "season": "show", "episode": "show"}


def _present(value: Any) -> bool:
    return value is not None and value != ""


def media_key(kind: MediaKind | str, ids: ExternalIds) -> str | None:
    """The canonical key, or None when the title has no id at all."""
    kind = TITLE_KIND.get(kind, kind)
    for name in ORDER:
        value = getattr(ids, name)
        if _present(value):
            return f"{kind}:{name}:{value}"
    return None


def alias_keys(kind: MediaKind | str, ids: ExternalIds) -> set[str]:
    """A key for each id the title has: two titles match when any of them is shared."""
    kind = TITLE_KIND.get(kind, kind)
    return {f"{kind}:{name}:{getattr(ids, name)}" for name in ORDER if _present(getattr(ids, name))}


def matches(kind: str, ids: ExternalIds, known: set[str]) -> bool:
    return not alias_keys(kind, ids).isdisjoint(known)


def merge_ids(first: ExternalIds, second: ExternalIds) -> ExternalIds:
    """``first``'s ids, with the gaps filled from ``second``."""
    return ExternalIds._make(a if _present(a) else b for a, b in zip(first, second, strict=True))


def valid_id(name: str, value: Any) -> int | str | None:
    """The id in its proper type if ``value`` is a well-formed id of that name (a
    positive integer for tmdb/tvdb/trakt, ``tt`` and digits for imdb, lower-case letters,
    digits and dashes for a slug), else None."""
    if name in NUMERIC_IDS:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_NUMERIC_ID:
            return value
        return None
    pattern = IMDB_ID if name == "imdb" else SLUG if name == "slug" else None
    if pattern is not None and isinstance(value, str) and pattern.fullmatch(value):
        return value
    return None


def parse_ids(raw: Any) -> ExternalIds:
    """Trakt's ``ids`` object (or our cached copy of it) as ``ExternalIds``; anything
    malformed becomes a missing id rather than an error."""
    if not isinstance(raw, Mapping):
        return ExternalIds()
    # Each id in the type of its name (``valid_id``), which mypy cannot follow by name.
    ids: dict[str, Any] = {name: valid_id(name, raw.get(name)) for name in ORDER}
    return ExternalIds(**ids)


def form_ids(raw: Mapping[str, Any]) -> ExternalIds:
    """Ids a person (or a page) sent: an empty field is no id, a malformed one is an
    error (``ValueError`` with ``MSG_BAD_ID``) rather than silently another title."""
    found: dict[str, Any] = {}
    for name in ORDER:
        value = raw.get(name)
        if value is None or value == "":
            continue
        found[name] = valid_id(name, value)
        if found[name] is None:
            raise ValueError(MSG_BAD_ID.format(name=name, value=str(value)[:40]))
    return ExternalIds(**found)


def path_segment(value: int | str) -> str:
    """An id as one segment of a Trakt URL path: percent-encoded, slashes and dots
    included, so no value can climb to another endpoint even if it slipped past
    validation (a row stored before ids were checked, say)."""
    text = quote(str(value), safe="")
    return "%2E" * len(text) if text in (".", "..") else text


def ids_dict(ids: ExternalIds) -> dict[str, Any]:
    return ids._asdict()


def union(pairs: Iterable[tuple[str, ExternalIds]]) -> set[str]:
    """Every alias key of these (kind, ids) pairs: a set to test ``matches`` against."""
    found: set[str] = set()
    for kind, ids in pairs:
        found |= alias_keys(kind, ids)
    return found

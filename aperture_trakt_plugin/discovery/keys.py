"""Media keys: one string per title, the same for a library item and a Trakt candidate.

Ratings, watch histories, hidden titles and Trakt's lists all name titles by ids, and
not always by the same ones: the library knows TMDB/IMDB/TVDB ids, Trakt adds its own.
The canonical key takes the first id present in the order tmdb, imdb, tvdb, trakt
("movie:tmdb:603"), which every source of a title agrees on in practice. Matching
(watched, rated, hidden) compares every id a title has (``alias_keys``), so a title the
library knows by IMDB id alone still matches Trakt's entry that also has a TMDB id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aperture_trakt_plugin.host import ExternalIds, MediaKind

ORDER = ("tmdb", "imdb", "tvdb", "trakt")
#: Discovery works on titles: an episode or a season stands for its show.
TITLE_KIND: dict[str, str] = {"movie": "movie", "show": "show", "season": "show",
                              "episode": "show"}


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
    return {f"{kind}:{name}:{getattr(ids, name)}" for name in ORDER
            if _present(getattr(ids, name))}


def matches(kind: str, ids: ExternalIds, known: set[str]) -> bool:
    return not alias_keys(kind, ids).isdisjoint(known)


def merge_ids(first: ExternalIds, second: ExternalIds) -> ExternalIds:
    """``first``'s ids, with the gaps filled from ``second``."""
    return ExternalIds(*(a if _present(a) else b for a, b in zip(first, second, strict=True)))


def parse_ids(raw: Any) -> ExternalIds:
    """Trakt's ``ids`` object (or our cached copy of it) as ``ExternalIds``; anything
    malformed becomes a missing id rather than an error."""
    if not isinstance(raw, Mapping):
        return ExternalIds()

    def number(name: str) -> int | None:
        value = raw.get(name)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return None

    imdb = raw.get("imdb")
    return ExternalIds(tmdb=number("tmdb"), imdb=imdb if isinstance(imdb, str) and imdb else None,
                       tvdb=number("tvdb"), trakt=number("trakt"))


def ids_dict(ids: ExternalIds) -> dict[str, Any]:
    return ids._asdict()


def union(pairs: Iterable[tuple[str, ExternalIds]]) -> set[str]:
    """Every alias key of these (kind, ids) pairs: a set to test ``matches`` against."""
    found: set[str] = set()
    for kind, ids in pairs:
        found |= alias_keys(kind, ids)
    return found

"""Storage of the lists the jobs fetch from Trakt, in the plugin's own table.

The database rather than Redis: the lists must survive a Redis restart (a page would
otherwise be empty until the next refresh), they are read in the same session as the
rest of a page, and a user's rows go with the user. One row per list; its payload is
JSON, written whole by a job and read whole by a page.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, select

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.discovery.keys import parse_ids
from aperture_trakt_plugin.discovery.posters import first_poster
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.storage.models import TraktDiscoveryList, utcnow
from aperture_trakt_plugin.trakt.errors import MalformedResponse

log = logging.getLogger(__name__)

MEDIA_TYPES = ("movies", "shows")
KIND_OF = {"movies": "movie", "shows": "show"}
TYPE_OF = {"movie": "movies", "show": "shows"}
MSG_NOT_A_LIST = "{what}: Trakt's answer was not a list"


def global_scope(list_name: str, media_type: str) -> str:
    return f"global:{list_name}:{media_type}"


def user_scope(user_id: int, name: str, media_type: str | None = None) -> str:
    return f"user:{user_id}:{name}" + (f":{media_type}" if media_type else "")


class Entry(NamedTuple):
    """A title on one of Trakt's lists, as much as discovery needs of it."""

    kind: str
    title: str
    year: int | None
    ids: ExternalIds
    poster: str | None = None  # checked by ``posters.poster_url`` before it is kept

    def to_json(self) -> dict[str, Any]:
        found = {
            "kind": self.kind,
            "title": self.title,
            "year": self.year,
            "ids": self.ids._asdict(),
        }
        if self.poster:
            found["poster"] = self.poster
        return found

    @classmethod
    def from_json(cls, raw: Any) -> Entry | None:
        """None for a row that is not an entry (an older or damaged payload)."""
        if not isinstance(raw, dict) or raw.get("kind") not in ("movie", "show"):
            return None
        year, poster = raw.get("year"), raw.get("poster")
        return cls(
            raw["kind"],
            str(raw.get("title") or ""),
            year if isinstance(year, int) else None,
            cached_ids(raw.get("ids")),
            poster if isinstance(poster, str) else None,
        )


_ID_KEYS = frozenset(ExternalIds._fields)


def _number(value: Any) -> bool:
    return value is None or type(value) is int  # not bool, which parse_ids drops


def cached_ids(raw: Any) -> ExternalIds:
    """``parse_ids`` of an ids object, taking the shortcut when it is the clean copy
    ``Entry.to_json`` wrote (every id a plain int, a non-empty IMDB string or null).

    A Discovery page parses every cached title (1,000 and more) on every view, and the
    general parser's per-field checks were a third of the page's time in
    ``bench/discovery_page.py``; anything unusual still goes through ``parse_ids``."""
    if type(raw) is dict and raw.keys() == _ID_KEYS:
        tmdb, imdb, tvdb, trakt = raw["tmdb"], raw["imdb"], raw["tvdb"], raw["trakt"]
        if (
            _number(tmdb)
            and _number(tvdb)
            and _number(trakt)
            and (imdb is None or (type(imdb) is str and imdb))
        ):
            return ExternalIds(tmdb, imdb, tvdb, trakt)
    return parse_ids(raw)


def parse_entries(data: Any, kind: str, what: str, api_url: str | None = None) -> list[Entry]:
    """Titles of a Trakt list answer: bare objects (popular, recommendations) or wrapped
    ones (``{"watchers": n, "movie": {...}}``, watchlist items). Items without a title
    or an id are skipped; an answer that is not a list at all is an error. Posters
    (``extended=images``) are kept when ``posters.first_poster`` passes them, with
    ``api_url`` the API the answer came from."""
    if not isinstance(data, list):
        raise MalformedResponse(MSG_NOT_A_LIST.format(what=what))
    found = []
    for item in data:
        obj = (
            item.get(kind) if isinstance(item, dict) and isinstance(item.get(kind), dict) else item
        )
        if not isinstance(obj, dict) or not isinstance(obj.get("title"), str):
            continue
        ids = parse_ids(obj.get("ids"))
        if not ids.any():
            continue
        year = obj.get("year")
        found.append(
            Entry(
                kind,
                obj["title"],
                year if isinstance(year, int) else None,
                ids,
                first_poster(obj, api_url),
            )
        )
    return found


class Parsed:
    """A payload as read from its JSON text, with its entries once asked for.

    Shared by every page that reads the same text (see ``parse``): read-only."""

    __slots__ = ("_entries", "payload")

    def __init__(self, payload: Any) -> None:
        self.payload = payload
        self._entries: tuple[Entry, ...] | None = None

    def entries(self) -> list[Entry]:
        if self._entries is None:
            items = self.payload if isinstance(self.payload, list) else []
            self._entries = tuple(e for e in map(Entry.from_json, items) if e is not None)
        return list(self._entries)


#: Payload texts recently parsed, most recent last: ``(scope, text) -> Parsed``.
_PARSED: OrderedDict[tuple[str, str], Parsed] = OrderedDict()
_PARSED_LOCK = threading.Lock()
PARSED_KEPT = 256  # rows: a page reads about ten, a refresh writes them all anew


def parse(scope: str, text: str | None) -> Parsed:
    """The row's payload, parsed once per process for as long as its text stays the same.

    Pages read the same few rows again and again between two refreshes (hours), and
    decoding and checking 1,000 cached titles was most of a Discovery page's own time in
    ``bench/discovery_page.py``. Keyed by the text itself, not by ``fetched_at``: a job in
    another process may rewrite a row at any time, and only equal text gives an equal
    answer. The key costs a hash of the text (C speed, microseconds)."""
    key = (scope, text or "")
    with _PARSED_LOCK:
        found = _PARSED.get(key)
        if found is not None:
            _PARSED.move_to_end(key)
            return found
    try:
        found = Parsed(json.loads(text) if text else None)
    except ValueError:
        log.warning(
            "the cached Trakt list %s is not JSON; it is ignored until the next "
            "refresh replaces it",
            scope,
        )
        found = Parsed(None)
    with _PARSED_LOCK:
        _PARSED[key] = found
        while len(_PARSED) > PARSED_KEPT:
            _PARSED.popitem(last=False)
    return found


def forget_parsed() -> None:
    """Empties the memo of ``parse``: the next read decodes again, as the first page after
    a refresh does (``bench/discovery_page.py`` times both)."""
    with _PARSED_LOCK:
        _PARSED.clear()


@dataclass(frozen=True)
class CachedList:
    scope: str
    payload: Any  # shared with other readers of the same text: never modify it
    fetched_at: datetime | None
    error: str | None
    error_at: datetime | None
    parsed: Parsed | None = field(default=None, compare=False, repr=False)

    def entries(self) -> list[Entry]:
        if self.parsed is not None:
            return self.parsed.entries()
        return Parsed(self.payload).entries()


def _session() -> Any:
    return extension.state().host.db.session


def _row(row: TraktDiscoveryList) -> CachedList:
    parsed = parse(row.scope, row.payload)
    return CachedList(row.scope, parsed.payload, row.fetched_at, row.error, row.error_at, parsed)


def load(scope: str) -> CachedList | None:
    row = _session().get(TraktDiscoveryList, scope)
    return _row(row) if row is not None else None


def load_many(scopes: Sequence[str]) -> dict[str, CachedList]:
    """Several lists in one query (a page reads about ten)."""
    rows = _session().scalars(
        select(TraktDiscoveryList).where(TraktDiscoveryList.scope.in_(list(scopes)))
    )
    return {row.scope: _row(row) for row in rows}


def entries(scope: str) -> list[Entry]:
    found = load(scope)
    return found.entries() if found is not None else []


def save(scope: str, payload: Any, commit: bool = True) -> None:
    """Replaces the list and clears any error recorded against it."""
    session = _session()
    row = session.get(TraktDiscoveryList, scope) or TraktDiscoveryList(scope=scope)
    row.payload = json.dumps(payload, separators=(",", ":"))
    row.fetched_at, row.error, row.error_at = utcnow(), None, None
    session.add(row)
    if commit:
        session.commit()


def save_entries(scope: str, items: Iterable[Entry]) -> None:
    save(scope, [entry.to_json() for entry in items])


def record_error(scope: str, message: str) -> None:
    """Keeps the last good list and says why it could not be refreshed."""
    session = _session()
    row = session.get(TraktDiscoveryList, scope) or TraktDiscoveryList(scope=scope, payload="[]")
    row.error, row.error_at = message, utcnow()
    session.add(row)
    session.commit()


def forget_user(user_id: int) -> int:
    """Drops a user's cached lists (disconnect, user deleted); global lists stay."""
    session = _session()
    result = session.execute(
        delete(TraktDiscoveryList).where(TraktDiscoveryList.scope.like(f"user:{user_id}:%"))
    )
    session.commit()
    return result.rowcount or 0

"""Storage of the lists the jobs fetch from Trakt, in the plugin's own table.

The database rather than Redis: the lists must survive a Redis restart (a page would
otherwise be empty until the next refresh), they are read in the same session as the
rest of a page, and a user's rows go with the user. One row per list; its payload is
JSON, written whole by a job and read whole by a page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, select

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.discovery.keys import parse_ids
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.models import TraktDiscoveryList, utcnow
from aperture_trakt_plugin.trakt_api import MalformedResponse

log = logging.getLogger(__name__)

MEDIA_TYPES = ("movies", "shows")
KIND_OF = {"movies": "movie", "shows": "show"}
TYPE_OF = {"movie": "movies", "show": "shows"}


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

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "year": self.year,
                "ids": self.ids._asdict()}

    @classmethod
    def from_json(cls, raw: Any) -> Entry | None:
        """None for a row that is not an entry (an older or damaged payload)."""
        if not isinstance(raw, dict) or raw.get("kind") not in ("movie", "show"):
            return None
        year = raw.get("year")
        return cls(raw["kind"], str(raw.get("title") or ""),
                   year if isinstance(year, int) else None, parse_ids(raw.get("ids")))


def parse_entries(data: Any, kind: str, what: str) -> list[Entry]:
    """Titles of a Trakt list answer: bare objects (popular, recommendations) or wrapped
    ones (``{"watchers": n, "movie": {...}}``, watchlist items). Items without a title
    or an id are skipped; an answer that is not a list at all is an error."""
    if not isinstance(data, list):
        raise MalformedResponse(f"{what}: Trakt's answer was not a list")
    found = []
    for item in data:
        obj = item.get(kind) if isinstance(item, dict) and isinstance(item.get(kind), dict) \
            else item
        if not isinstance(obj, dict) or not isinstance(obj.get("title"), str):
            continue
        ids = parse_ids(obj.get("ids"))
        if not ids.any():
            continue
        year = obj.get("year")
        found.append(Entry(kind, obj["title"], year if isinstance(year, int) else None, ids))
    return found


@dataclass(frozen=True)
class CachedList:
    scope: str
    payload: Any
    fetched_at: datetime | None
    error: str | None
    error_at: datetime | None

    def entries(self) -> list[Entry]:
        items = self.payload if isinstance(self.payload, list) else []
        return [entry for entry in map(Entry.from_json, items) if entry is not None]


def _session() -> Any:
    return extension.state().host.db.session


def _row(row: TraktDiscoveryList) -> CachedList:
    try:
        payload = json.loads(row.payload) if row.payload else None
    except ValueError:
        log.warning("the cached Trakt list %s is not JSON; it is ignored until the next "
                    "refresh replaces it", row.scope)
        payload = None
    return CachedList(row.scope, payload, row.fetched_at, row.error, row.error_at)


def load(scope: str) -> CachedList | None:
    row = _session().get(TraktDiscoveryList, scope)
    return _row(row) if row is not None else None


def load_many(scopes: Sequence[str]) -> dict[str, CachedList]:
    """Several lists in one query (a page reads about ten)."""
    rows = _session().scalars(select(TraktDiscoveryList).where(
        TraktDiscoveryList.scope.in_(list(scopes))))
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
    row = session.get(TraktDiscoveryList, scope) or TraktDiscoveryList(scope=scope,
                                                                       payload="[]")
    row.error, row.error_at = message, utcnow()
    session.add(row)
    session.commit()


def forget_user(user_id: int) -> int:
    """Drops a user's cached lists (disconnect, user deleted); global lists stay."""
    session = _session()
    result = session.execute(delete(TraktDiscoveryList).where(
        TraktDiscoveryList.scope.like(f"user:{user_id}:%")))
    session.commit()
    return result.rowcount or 0

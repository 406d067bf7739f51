"""Trakt's wire formats: its items ↔ host references, times, activity markers, sync
bodies and what a write's answer confirms.

No I/O here, so what is read from and sent to Trakt can be tested with plain values.
Items are matched by ids only, never by title. (The merge that decides with these is
``sync.merge``.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from aperture_trakt_plugin.host import ExternalIds, MediaKind, MediaRef

#: Trakt's plural type names, in the order sync bodies list them.
PLURAL: dict[str, str] = {
    "movie": "movies",
    "show": "shows",
    "season": "seasons",
    "episode": "episodes",
}
RATED_TYPES = tuple(PLURAL.values())
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # reads Trakt's "…000Z" since Python 3.11
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def trakt_time(value: datetime) -> str:
    """Trakt's date form: UTC, milliseconds, ``Z``."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


# --- last_activities ------------------------------------------------------------------------


def ratings_marker(activities: Any) -> dict[str, str | None]:
    """The four ratings timestamps of ``/sync/last_activities``, tolerant of its shapes."""
    marker: dict[str, str | None] = {}
    for plural in RATED_TYPES:
        section = activities.get(plural) if isinstance(activities, dict) else None
        marker[plural] = section.get("rated_at") if isinstance(section, dict) else None
    return marker


def moved_types(old: dict[str, str | None] | None, new: dict[str, str | None]) -> list[str]:
    """Types whose ratings changed on Trakt since ``old`` (all of them when unknown)."""
    if not old:
        return list(RATED_TYPES)
    return [t for t in RATED_TYPES if old.get(t) != new.get(t) or new.get(t) is None]


# --- Trakt items ↔ host references ------------------------------------------------------------


def _ids(obj: Any) -> dict[str, Any]:
    ids = obj.get("ids") if isinstance(obj, dict) else None
    return ids if isinstance(ids, dict) else {}


def _id(value: Any) -> int | None:
    """A numeric id as decoded JSON holds it: an integer, and never ``true``/``false``
    (``type`` is exact: a bool is an int subclass, and JSON decodes to no other)."""
    return value if type(value) is int else None


def _external(ids: dict[str, Any]) -> ExternalIds:
    imdb = ids.get("imdb")
    return ExternalIds(
        _id(ids.get("tmdb")), imdb if imdb else None, _id(ids.get("tvdb")), _id(ids.get("trakt"))
    )


class TraktRating(NamedTuple):
    """One rating read from Trakt, with what the host needs to find the item."""

    ref: MediaRef  # kind, the movie's or show's ids, season/episode numbers
    trakt_id: int | None  # the rated object's own Trakt id (an episode's, not its show's)
    value: int
    rated_at: datetime

    @property
    def orphan_key(self) -> str:
        return f"t:{self.ref.kind}:{self.trakt_id}"


_KINDS = ("episode", "season", "movie", "show")  # without ``type``: the most specific first
# PLURAL's keys are the four kinds, so each is a MediaKind.
_KIND_NAMES: dict[str, MediaKind] = {kind: cast(MediaKind, kind) for kind in PLURAL}


def trakt_rating(item: Any) -> TraktRating | None:
    """Reads one ``GET /sync/ratings`` item; ``None`` for one we cannot use (malformed,
    a rating outside 1-10, or no ids at all): never guessed by title.

    Called once per rating of a whole history (100,000 for a heavy user), so the common
    case takes the short road: checks by exact type, no helper calls it can do without.
    """
    if type(item) is not dict:
        return None
    value = item.get("rating")
    if type(value) is not int or not 1 <= value <= 10:
        return None
    kind = item.get("type") or next((k for k in _KINDS if type(item.get(k)) is dict), None)
    # The module's own string for the kind: the decoder makes one per item (5 MB for
    # 100,000 ratings, all kept in the refs).
    kind = _KIND_NAMES.get(kind) if type(kind) is str else None
    if kind is None:
        return None
    own = item.get(kind)
    if type(own) is not dict:
        return None
    season = episode = None
    if kind == "movie" or kind == "show":
        ids, title = _ids(own), own.get("title") or ""
    else:
        show = item.get("show")
        show = show if type(show) is dict else {}  # a malformed show has no ids either
        ids, title = _ids(show), show.get("title") or ""
        season = own.get("season") if kind == "episode" else own.get("number")
        episode = own.get("number") if kind == "episode" else None
        if not isinstance(season, int) or (kind == "episode" and not isinstance(episode, int)):
            return None
    external = _external(ids)
    if external == _NO_IDS:  # ``not external.any()``, in one comparison: all are None
        return None
    ref = MediaRef(kind, external, None, title, own.get("year"), season, episode)
    # A movie or show is its own rated object: its ids are already read.
    trakt_id = external.trakt if kind == "movie" or kind == "show" else _id(_ids(own).get("trakt"))
    return TraktRating(ref, trakt_id, value, parse_time(item.get("rated_at")) or EPOCH)


_NO_IDS = ExternalIds()


def body_ids(ids: ExternalIds, kind: MediaKind) -> dict[str, Any]:
    """Ids for a sync body; movies have no tvdb on Trakt."""
    wanted = ("trakt", "tmdb", "imdb") if kind == "movie" else ("trakt", "tvdb", "tmdb", "imdb")
    return {name: getattr(ids, name) for name in wanted if getattr(ids, name)}


def sync_body(
    entries: list[tuple[MediaRef, int | None, datetime]],
) -> dict[str, list[dict[str, Any]]]:
    """A ``/sync/ratings`` (or ``/remove``) body: rating omitted where value is None.

    Seasons and episodes are nested under their show's ids, because the host knows them
    by show and number, not by their own Trakt ids.
    """
    body: dict[str, list[dict[str, Any]]] = {
        "movies": [],
        "shows": [],
        "seasons": [],
        "episodes": [],
    }
    shows: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    for ref, value, at in entries:
        leaf: dict[str, Any] = {}
        if value is not None:
            leaf = {"rating": value, "rated_at": trakt_time(at)}
        if ref.kind in ("movie", "show") and not ref.season:
            body[PLURAL[ref.kind]].append({**leaf, "ids": body_ids(ref.ids, ref.kind)})
            continue
        ids = body_ids(ref.ids, "show")
        key = tuple(sorted(ids.items()))
        show = shows.get(key)
        if show is None:
            show = shows[key] = {"ids": ids, "seasons": []}
            body["shows"].append(show)
        season = next((s for s in show["seasons"] if s["number"] == ref.season), None)
        if season is None:
            season = {"number": ref.season}
            show["seasons"].append(season)
        if ref.kind == "season":
            season.update(leaf)
        else:
            season.setdefault("episodes", []).append({"number": ref.episode, **leaf})
    return body


# --- what Trakt confirmed of a write ---------------------------------------------------------


def short_types(kinds: Iterable[str], answer: Any, counted: str) -> set[str]:
    """The types (plural) of one sync write whose items Trakt's answer does not account
    for: its count (``added`` or ``deleted``, per ``counted``) differs from what was sent.

    ``not_found`` is no faithful echo: Trakt has sent entries without ids, ``{}``, reshaped
    ids and nested structures (CONTRACT 6.3), so matching it to what was sent let an
    unknown episode pass as accepted. The count is what the schema promises; a type it
    does not confirm is checked item by item against what Trakt then holds."""
    sent = Counter(PLURAL[kind] for kind in kinds)
    counts = answer.get(counted) if isinstance(answer, dict) else None
    counts = counts if isinstance(counts, dict) else {}
    return {
        plural
        for plural, n in sent.items()
        if type(counts.get(plural)) is not int or counts[plural] != n
    }


class HeldRatings:
    """The ratings Trakt holds, found by any id the host also knows for an item."""

    _ID_NAMES = ("trakt", "tmdb", "imdb", "tvdb")

    def __init__(self, items: Iterable[TraktRating]) -> None:
        self._values: dict[tuple[Any, ...], int] = {}
        for item in items:
            ref = item.ref
            for name, value in zip(self._ID_NAMES, _ordered(ref.ids), strict=True):
                if value:
                    self._values[(ref.kind, ref.season, ref.episode, name, value)] = item.value

    def value(self, ref: MediaRef) -> int | None:
        """Trakt's rating of ``ref`` (None: Trakt holds none)."""
        for name, value in zip(self._ID_NAMES, _ordered(ref.ids), strict=True):
            held = (
                self._values.get((ref.kind, ref.season, ref.episode, name, value))
                if value
                else None
            )
            if held is not None:
                return held
        return None


def _ordered(ids: ExternalIds) -> tuple[Any, ...]:
    return ids.trakt, ids.tmdb, ids.imdb, ids.tvdb

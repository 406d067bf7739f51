"""From cached lists to the candidates a user sees: merged, matched, filtered, ordered.

Everything here reads the database only (the cached lists, the library, the user's
ratings, watches and hidden titles), so it is what a page runs. The same title on
several lists becomes one candidate carrying every list's label; a title the library
holds is keyed and flagged by the library's item; what the user watched (here or on
Trakt), rated (here or on Trakt) or hid is left out. The order is the one the last
refresh ranked, with anything that arrived since after it in the list's own order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from flask import g, has_app_context
from sqlalchemy import select

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.discovery import cache
from aperture_trakt_plugin.discovery.cache import KIND_OF, Entry, user_scope
from aperture_trakt_plugin.discovery.keys import alias_keys, media_key, merge_ids
from aperture_trakt_plugin.discovery.lists import ALL, BY_ID, LISTS
from aperture_trakt_plugin.host import DiscoveryCandidate, ExternalIds, MediaKind, MediaRef
from aperture_trakt_plugin.storage.models import TraktHidden, TraktLedger

RANKED = "ranked"
WATCHED = "watched"
MSG_UNKNOWN_TYPE = "unknown media type {media_type!r}; use one of {known}"


@dataclass
class Pool:
    """Every title on the user's lists of one media type, merged by media key."""

    user_id: int | None
    media_type: str
    order: dict[str, list[str]] = field(default_factory=dict)  # list id -> keys
    entries: dict[str, Entry] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)  # key -> list ids
    library: dict[str, MediaRef] = field(default_factory=dict)
    # key -> its alias keys: each list of a page asks again for the titles it shares
    _aliases: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def keys_of(self, list_id: str) -> list[str]:
        """A list's keys in its own order; for ``ALL``, the lists one after the other."""
        if list_id != ALL:
            return self.order.get(list_id, [])
        merged: dict[str, None] = {}
        for trakt_list in LISTS:
            merged.update(dict.fromkeys(self.order.get(trakt_list.id, [])))
        return list(merged)

    def aliases(self, key: str) -> set[str]:
        """Every id key of the title, its library item's included (computed once)."""
        found = self._aliases.get(key)
        if found is None:
            entry, ref = self.entries[key], self.library.get(key)
            ids = merge_ids(ref.ids, entry.ids) if ref is not None else entry.ids
            found = self._aliases[key] = alias_keys(entry.kind, ids)
        return found


def _host() -> Any:
    return extension.state().host


def _keep(entries: dict[str, Entry], key: str, entry: Entry) -> None:
    """The first list's entry of a title, unless only a later one has a poster (a list
    cached before posters were asked for, or one Trakt sent without images)."""
    held = entries.get(key)
    if held is None or (held.poster is None and entry.poster is not None):
        entries[key] = entry


def build_pool(user_id: int | None, media_type: str) -> Pool:
    """Reads the lists from the cache and matches them against the library at once."""
    pool = Pool(user_id, media_type)
    scopes = {t.id: t.cache_scope(user_id, media_type) for t in LISTS}
    cached = cache.load_many([s for s in scopes.values() if s])
    lists = {
        list_id: cached[scope].entries() if scope in cached else []
        for list_id, scope in scopes.items()
    }
    # Each entry's own key, once: the same title is on several lists, and all of them are
    # walked twice (to find what to match, then to order each list).
    owns = {
        list_id: [(media_key(e.kind, e.ids), e) for e in items] for list_id, items in lists.items()
    }
    unique: dict[str, Entry] = {}
    for pairs in owns.values():
        for own, entry in pairs:
            if own is not None:
                _keep(unique, own, entry)
    refs = [
        MediaRef(kind=e.kind, ids=e.ids, title=e.title, year=e.year)  # type: ignore[arg-type]
        for e in unique.values()
    ]
    found = _host().find_media_bulk(refs) if refs else []
    canonical: dict[str, str] = {}
    for (own, entry), ref in zip(unique.items(), found, strict=True):
        key = media_key(entry.kind, ref.ids) if ref is not None and ref.ids.any() else None
        key = key or own
        canonical[own] = key
        _keep(pool.entries, key, entry)
        if ref is not None:
            pool.library[key] = ref
    for trakt_list in LISTS:
        keys = dict.fromkeys(canonical[own] for own, _ in owns[trakt_list.id] if own is not None)
        pool.order[trakt_list.id] = list(keys)
        for key in keys:
            pool.labels.setdefault(key, []).append(trakt_list.id)
    return pool


def _ids_of(row: Any) -> ExternalIds:
    return ExternalIds(tmdb=row.tmdb, imdb=row.imdb, tvdb=row.tvdb, trakt=row.trakt)


def hidden_keys(user_id: int) -> set[str]:
    rows = _host().db.session.scalars(select(TraktHidden).where(TraktHidden.user_id == user_id))
    found: set[str] = set()
    for row in rows:
        found |= alias_keys(row.kind, _ids_of(row)) | {row.item_key}
    return found


def seen_keys(user_id: int) -> set[str]:
    """Alias keys of every title the user watched or rated, on this server or on Trakt
    (Trakt's ratings of titles the library lacks live in the sync's ledger)."""
    host = _host()
    found: set[str] = set()
    for rating in host.list_ratings(user_id):
        if rating.media.kind in ("movie", "show"):
            found |= alias_keys(rating.media.kind, rating.media.ids)
    for event in host.watch_history(user_id):
        found |= alias_keys(event.media.kind, event.media.ids)  # an episode: its show
    orphans = host.db.session.scalars(
        select(TraktLedger).where(
            TraktLedger.user_id == user_id,
            TraktLedger.item_id.is_(None),
            TraktLedger.kind.in_(("movie", "show")),
        )
    )
    for row in orphans:
        found |= alias_keys(row.kind, _ids_of(row))
    watched = cache.load(user_scope(user_id, WATCHED))
    if watched is not None and isinstance(watched.payload, list):
        found |= {key for key in watched.payload if isinstance(key, str)}
    return found


def excluded_keys(user_id: int | None) -> set[str]:
    if user_id is None:
        return set()
    return seen_keys(user_id) | hidden_keys(user_id)


def _memo(name: str, user_id: int | None, media_type: str | None, build: Any) -> Any:
    """Once per request: the host asks each source for each media type in turn."""
    if not has_app_context():
        return build()
    memo = g.setdefault("aperture_trakt_discovery", {})
    key = (name, user_id, media_type)
    if key not in memo:
        memo[key] = build()
    return memo[key]


def forget_memo() -> None:
    if has_app_context():
        g.pop("aperture_trakt_discovery", None)


def ranked_payload(user_id: int | None, media_type: str) -> dict[str, Any]:
    if user_id is None:
        return {}
    found = cache.load(user_scope(user_id, RANKED, media_type))
    return found.payload if found is not None and isinstance(found.payload, dict) else {}


def ordered(pool: Pool, list_id: str, ranked: dict[str, Any]) -> list[str]:
    """The refresh's ranked order of the list, then what it did not rank, in list order."""
    keys = pool.keys_of(list_id)
    present = set(keys)
    orders = ranked.get("order")
    orders = orders if isinstance(orders, dict) else {}
    first = [k for k in orders.get(list_id) or [] if isinstance(k, str) and k in present]
    placed = set(first)
    return first + [k for k in keys if k not in placed]


def _reason(pool: Pool, key: str, list_id: str, ranked_reason: str) -> str:
    if ranked_reason:
        return ranked_reason
    own = BY_ID.get(list_id) or BY_ID[pool.labels[key][0]]
    return own.reason


def candidate(
    pool: Pool, key: str, list_id: str, score: float = 0.0, reason: str = ""
) -> DiscoveryCandidate:
    entry, ref = pool.entries[key], pool.library.get(key)
    return DiscoveryCandidate(
        # "movie" or "show": the lists' own kinds (``parse_entries``), checked again when
        # read back from the cache (``Entry.from_json``).
        kind=cast(MediaKind, entry.kind),
        title=entry.title,
        year=entry.year,
        ids=merge_ids(entry.ids, ref.ids) if ref is not None else entry.ids,
        sources=[BY_ID[list_id].label for list_id in pool.labels.get(key, [])],
        reason=_reason(pool, key, list_id, reason),
        score=score,
        in_library=ref,
        poster=entry.poster,
    )


def unseen(pool: Pool, keys: Sequence[str], excluded: set[str]) -> list[str]:
    return [key for key in keys if pool.aliases(key).isdisjoint(excluded)]


def for_list(
    user_id: int | None, list_id: str, media_type: str, limit: int | None = None
) -> list[DiscoveryCandidate]:
    """A list's candidates for the user, best first (``ALL``: every list merged)."""
    if media_type not in KIND_OF:
        raise ValueError(MSG_UNKNOWN_TYPE.format(media_type=media_type, known=sorted(KIND_OF)))
    pool = _memo("pool", user_id, media_type, lambda: build_pool(user_id, media_type))
    excluded = _memo("excluded", user_id, None, lambda: excluded_keys(user_id))
    # Filtered once per page and media type: the lists share most of their titles.
    allowed = _memo(
        "unseen", user_id, media_type, lambda: set(unseen(pool, list(pool.entries), excluded))
    )
    ranked = _memo("ranked", user_id, media_type, lambda: ranked_payload(user_id, media_type))
    scores = ranked.get("scores") if isinstance(ranked.get("scores"), dict) else {}
    found = []
    for key in (k for k in ordered(pool, list_id, ranked) if k in allowed):
        score, reason = _score(scores.get(key))
        found.append(candidate(pool, key, list_id, score, reason))
        if limit is not None and len(found) >= limit:
            break
    return found


def _score(raw: Any) -> tuple[float, str]:
    if isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], int | float):
        return float(raw[0]), raw[1] if isinstance(raw[1], str) else ""
    return 0.0, ""

"""The three-way merge over plain values: whose rating stands (``decide``) and the plan
of one user's sync (``plan``), from the ledger, the outbox, the host's ratings and
Trakt's.

Nothing here reads a database, Redis or Trakt: the run (``sync.run``) reads them and
hands over plain rows, and the unit tier decides every case without a server
(``tests/unit/test_merge_*.py``). The loops are the sync's hot path: a first sync plans
100,000 items, so they make tuples with ``tuple.__new__`` and avoid per-item calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import NamedTuple, Protocol, cast

from aperture_trakt_plugin.host import ExternalIds, HostRating, MediaKind, MediaRef
from aperture_trakt_plugin.trakt.wire import EPOCH, PLURAL, TraktRating

#: Named tuples made 100,000 at a time are made by ``tuple.__new__`` (every field given,
#: in order): their own constructor is a Python lambda that costs twice as much.
_new = tuple.__new__
MATCH_CHUNK = 10_000  # Trakt items per find_media_bulk: bounds the host's refs in memory

#: Outbox states: waiting to go; Trakt does not hold what was sent (kept until the user
#: changes that rating); the account's ratings cap refused it (tried again when Trakt's
#: ratings change, the user may have made room, or a day later).
PENDING, NOT_FOUND, OVER_LIMIT = "pending", "not_found", "over_limit"

# --- item keys ---------------------------------------------------------------------------
#: A key names an item across the ledger, the outbox and both sides: ``h:<item id>`` for
#: a library item, ``t:<kind>:<trakt id>`` for a Trakt rating the library lacks
#: (``TraktRating.orphan_key``).
LIBRARY = "h:"


def library_key(item_id: str) -> str:
    return LIBRARY + item_id


def library_id(key: str) -> str | None:
    """The library item a key names (None: a Trakt rating the library lacks)."""
    return key[len(LIBRARY) :] if key.startswith(LIBRARY) else None


# --- the rule ------------------------------------------------------------------------------


class Action(Enum):
    NONE = "none"  # both sides still agree with the ledger
    TO_TRAKT = "to_trakt"  # only the host changed
    TO_HOST = "to_host"  # only Trakt changed
    AGREE = "agree"  # both changed to the same value: only the ledger moves
    LET_GO = "let_go"  # the item left the library: the ledger forgets it, no side is written


class Side(NamedTuple):
    """A side's current rating (``value`` None: unrated) and when it last changed."""

    value: int | None
    at: datetime


class Decision(NamedTuple):
    action: Action
    value: int | None
    at: datetime
    conflict: bool = False
    winner: str = ""  # "host" or "trakt" when both changed to different values


def decide(base: Side | None, host: Side, trakt: Side) -> Decision:
    """Whose rating stands. A side changed when its value differs from the ledger's;
    when both changed to different values the newer time wins, and equal times go to
    the host (the user's own server).

    A side can also have spoken after the agreement and come back to the agreed value
    (rated and unrated on the host, re-rated on Trakt): its time is then newer than the
    ledger's. If that is newer than the other side's change, it is the user's last word
    and the agreed value stands on both; without this, a rating removed on the host came
    back from Trakt. A removal on Trakt has no time of its own, so only a Trakt rating
    can speak this way."""
    agreed = base.value if base else None
    since = base.at if base else EPOCH
    host_changed, trakt_changed = host.value != agreed, trakt.value != agreed
    if not host_changed and not trakt_changed:
        return Decision(Action.NONE, agreed, base.at if base else host.at)
    if host_changed and not trakt_changed:
        if trakt.value is not None and trakt.at > max(since, host.at):
            return Decision(Action.TO_HOST, trakt.value, trakt.at, conflict=True, winner="trakt")
        return Decision(Action.TO_TRAKT, host.value, host.at)
    if trakt_changed and not host_changed:
        if host.at > since and host.at >= trakt.at:
            return Decision(Action.TO_TRAKT, host.value, host.at, conflict=True, winner="host")
        return Decision(Action.TO_HOST, trakt.value, trakt.at)
    if host.value == trakt.value:
        return Decision(Action.AGREE, host.value, max(host.at, trakt.at))
    if host.at >= trakt.at:
        return Decision(Action.TO_TRAKT, host.value, host.at, conflict=True, winner="host")
    return Decision(Action.TO_HOST, trakt.value, trakt.at, conflict=True, winner="trakt")


# --- the plan ------------------------------------------------------------------------------


class LedgerRow(Protocol):
    """What both sides last agreed on for one item (a row of ``trakt_ledger``)."""

    kind: str
    item_id: str | None
    trakt: int | None
    tmdb: int | None
    imdb: str | None
    tvdb: int | None
    season: int | None
    episode: int | None
    title: str | None
    value: int
    rated_at: datetime


class OutboxRow(Protocol):
    """A host change not yet confirmed by Trakt (a row of ``trakt_outbox``)."""

    item_id: str
    value: int | None
    at: datetime
    version: int
    state: str


class Change(NamedTuple):
    """One item whose rating moves: where to, from which outbox version (if any)."""

    key: str
    ref: MediaRef
    decision: Decision
    trakt_id: int | None = None
    outbox_version: int | None = None


def ledger_ref(row: LedgerRow) -> MediaRef:
    """The item a ledger row names, for an item the library lacks or no longer has."""
    return MediaRef(
        # The ledger holds only kinds a MediaRef wrote there (settlement.ledger_rows).
        kind=cast(MediaKind, row.kind),
        ids=ExternalIds(tmdb=row.tmdb, imdb=row.imdb, tvdb=row.tvdb, trakt=row.trakt),
        item_id=row.item_id,
        title=row.title or "",
        season=row.season,
        episode=row.episode,
    )


def pair(
    trakt_items: Sequence[TraktRating],
    find_media_bulk: Callable[[list[MediaRef]], list[MediaRef | None]],
    host_ratings: Mapping[str, HostRating],
) -> dict[str, tuple[TraktRating, MediaRef | None]]:
    """Trakt's ratings by key, each with its library item when the host has one.

    Matched a slice at a time, keeping a match only where the host's rating does not
    bring the same ref: a user who rates everything already made 100,000 refs the host
    built only to be dropped again, all alive at once at the sync's peak."""
    on_trakt: dict[str, tuple[TraktRating, MediaRef | None]] = {}
    for start in range(0, len(trakt_items), MATCH_CHUNK):
        part = trakt_items[start : start + MATCH_CHUNK]
        matches = find_media_bulk([t.ref for t in part])
        # The host finds library items, which always carry their id (None is for what
        # the host does not hold).
        on_trakt.update(
            (
                (library_key(cast(str, match.item_id)) if match else item.orphan_key),
                (item, None if match and match.item_id in host_ratings else match),
            )
            for item, match in zip(part, matches, strict=True)
        )
    return on_trakt


def plan(
    ledger: Mapping[str, LedgerRow],
    outbox: Mapping[str, OutboxRow],
    host_ratings: Mapping[str, HostRating],
    on_trakt: dict[str, tuple[TraktRating, MediaRef | None]],
    removed_at: Mapping[str, datetime],
    get_media: Callable[[str], MediaRef | None],
) -> list[Change]:
    """Every item either side or the ledger knows, decided three-way.

    ``on_trakt``: from ``pair`` (emptied as it is read); ``removed_at``: for each type
    read from Trakt, the time a rating missing there counts as removed (Trakt keeps no
    removal time); a type not read counts as still holding the agreed value.
    ``get_media``: the host's item by id, for an item only the ledger or the outbox
    names.

    Changes come in the order of their keys (the ledger's primary key): the database
    stores rows handed over in key order a third faster than in a set's order."""
    # Only the sorted list of keys lives on: the set and the host's keys that duplicate
    # Trakt's go as soon as they are made (100,000 strings fewer at the peak).
    keys = sorted(
        set(ledger).union(
            on_trakt,
            (library_key(item_id) for item_id in host_ratings),
            (library_key(item_id) for item_id in outbox),
        )
    )
    changes: list[Change] = []
    unrated = Side(None, EPOCH)
    for key in keys:
        base_row = ledger.get(key)
        item, match = on_trakt.pop(key, (None, None))  # each key comes once: its pair goes
        item_id = library_id(key)
        rating = host_ratings.get(item_id) if item_id else None
        pending = outbox.get(item_id) if item_id else None
        if match is not None and base_row is None and rating is None and pending is None:
            assert item is not None  # ``pair`` makes a match only with Trakt's item
            # Only Trakt rates this library item, and it was never paired: it goes to the
            # host (``decide``'s answer, without the call: a first sync's usual case).
            decision = _new(Decision, (Action.TO_HOST, item.value, item.rated_at, False, ""))
            changes.append(_new(Change, (key, match, decision, item.trakt_id, None)))
            continue
        base = _new(Side, (base_row.value, base_row.rated_at or EPOCH)) if base_row else None
        ref = (rating.media if rating else match) or (item.ref if item else None)
        if ref is None and item_id:
            ref = get_media(item_id)
            if ref is None and base_row is not None:
                # The item left the library. Its Trakt rating stays: an admin removing a
                # file must not take a user's rating off Trakt. If Trakt still holds it,
                # it waits for the library like any rating of an item the library lacks.
                changes.append(
                    Change(
                        key,
                        ledger_ref(base_row),
                        Decision(Action.LET_GO, None, base_row.rated_at),
                        None,
                        pending.version if pending else None,
                    )
                )
                continue
        if ref is None and base_row is not None:
            ref = ledger_ref(base_row)  # a Trakt rating the library still lacks
        if ref is None:
            continue  # an outbox row for an item that left the library
        plural = PLURAL[ref.kind]
        if plural not in removed_at:
            trakt_side = base or unrated
        elif item is not None:
            trakt_side = _new(Side, (item.value, item.rated_at))
        else:
            trakt_side = Side(None, removed_at[plural])
        if item_id is None:
            host_side = base or unrated  # not in the library: only the ledger records it
        elif rating is not None:
            host_side = _new(Side, (rating.value, rating.rated_at))
        elif pending is not None and pending.value is None:
            host_side = Side(None, pending.at)
        else:
            host_side = unrated
        decision = decide(base, host_side, trakt_side)
        if decision.action is Action.NONE and pending is None:
            continue
        if (
            decision.action is Action.TO_TRAKT
            and pending is not None
            and pending.state != PENDING
            and pending.value == decision.value
        ):
            continue  # Trakt did not take it (``settle``); wait for a change or for room
        changes.append(
            _new(
                Change,
                (
                    key,
                    ref,
                    decision,
                    item.trakt_id if item else None,
                    pending.version if pending else None,
                ),
            )
        )
    return changes


def push_plan(
    outbox: Sequence[OutboxRow],
    refs: Sequence[MediaRef | None],
    ledger: Mapping[str, LedgerRow],
) -> list[Change]:
    """A push's plan when Trakt has not changed since the last agreement: Trakt holds
    what the ledger holds, so each pending change of an item still in the library
    (``refs``, in the outbox's order) is decided against the ledger alone."""
    changes = []
    for row, ref in zip(outbox, refs, strict=True):
        if ref is None:
            continue
        key = library_key(row.item_id)
        base = ledger.get(key)
        agreed = Side(base.value, base.rated_at) if base else None
        decision = decide(agreed, Side(row.value, row.at), agreed or Side(None, EPOCH))
        changes.append(Change(key, ref, decision, None, row.version))
    return changes


def removed_from_host(changes: Sequence[Change]) -> int:
    """How many library ratings the plan takes off the host (the mass-removal guard)."""
    return sum(
        1
        for c in changes
        if c.decision.action is Action.TO_HOST and c.decision.value is None and c.ref.item_id
    )

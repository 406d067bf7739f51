"""What a run's writes settle, over plain values: which changes Trakt did not take
(``settle``), what the outbox becomes (``outbox_after``) and which rows the ledger
records (``recorded`` and ``ledger_rows``).

The rule throughout: nothing counts as agreed that Trakt did not confirm, so a later
pull can never take a rating off the host because Trakt lacks it. The store
(``sync.store``) writes what these return, in the run's one commit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from aperture_trakt_plugin.host import MediaRef
from aperture_trakt_plugin.sync.merge import NOT_FOUND, OVER_LIMIT, PENDING, Change, OutboxRow

MSG_UNKNOWN_IDS = "Trakt does not know this item's ids"
MSG_NOT_TAKEN = "Trakt did not take this rating: it still holds {held}"
MSG_REMOVAL_NOT_TAKEN = "Trakt did not remove this rating: it still holds {held}"

#: Why Trakt did not take a change: key -> (outbox state, reason).
Refusals = dict[str, tuple[str, str]]


def settle(
    checked: Sequence[Change],
    held_value: Callable[[MediaRef], int | None],
    over_limit: Collection[str],
    unsent: Sequence[Change],
    limit_reason: str,
) -> Refusals:
    """The changes Trakt did not take. ``checked``: those its answers left in doubt,
    with ``held_value`` saying what Trakt now holds of each; ``over_limit``: the keys of
    the batch the ratings cap refused (Trakt may hold part of it); ``unsent``: the adds
    never sent after the cap refused one. A change Trakt holds as sent is taken."""
    refused: Refusals = {}
    for change in checked:
        value = held_value(change.ref)
        if value == change.decision.value:
            continue
        if change.key in over_limit:
            refused[change.key] = (OVER_LIMIT, limit_reason)
        elif value is None:
            refused[change.key] = (NOT_FOUND, MSG_UNKNOWN_IDS)
        else:
            template = MSG_NOT_TAKEN if change.decision.value is not None else MSG_REMOVAL_NOT_TAKEN
            refused[change.key] = (NOT_FOUND, template.format(held=value))
    for change in unsent:
        refused[change.key] = (OVER_LIMIT, limit_reason)
    return refused


class OutboxAfter(NamedTuple):
    """What the outbox becomes after a run's writes."""

    #: New rows (item_id, value, at, state, reason): deferred changes the outbox lacked
    #: (``pending``, no reason) and refused ones (their state and reason).
    added: list[tuple[str | None, int | None, datetime, str, str | None]]
    #: Rows that now carry a refusal: (row, state, reason).
    refused: list[tuple[Any, str, str]]
    #: Rows now on both sides: (item_id, version), deleted only at that version, so a
    #: change the user made meanwhile stays for the next push.
    done: list[tuple[str, int]]


def outbox_after(
    changes: Sequence[Change],
    outbox: Mapping[str, OutboxRow],
    deferred: Collection[str],
    refused: Refusals,
) -> OutboxAfter:
    """A deferred change stays (or is put) in the outbox for the next push; a refused
    one is kept with its reason, unless the user changed it since (it stays pending);
    the rest leave it. A pull with nothing pending and nothing held back has no outbox
    work: 100,000 changes are not walked for it."""
    after = OutboxAfter([], [], [])
    if not (outbox or deferred or refused):
        return after
    for change in changes:
        row = outbox.get(change.ref.item_id or "")
        decision = change.decision
        if change.key in deferred:
            if row is None:
                after.added.append((change.ref.item_id, decision.value, decision.at, PENDING, None))
            continue
        refusal = refused.get(change.key)
        if refusal is not None:
            if row is None:
                after.added.append((change.ref.item_id, decision.value, decision.at, *refusal))
            elif row.version == change.outbox_version:
                after.refused.append((row, *refusal))
            continue
        if row is not None and row.version == change.outbox_version:
            after.done.append((row.item_id, row.version))
    return after


def recorded(
    changes: list[Change], refused: Collection[str], deferred: Collection[str]
) -> list[Change]:
    """The changes the ledger records: those both sides now hold."""
    if not (refused or deferred):
        return changes
    return [c for c in changes if c.key not in refused and c.key not in deferred]


#: A library item's row keeps the pairing only: the host knows the item's ids and title,
#: and a first sync writes 100,000 such rows, which SQLite stores in about half the time
#: without the six columns the host already answers for (they stay empty).
PAIRED_COLUMNS = ("user_id", "item_key", "kind", "item_id", "trakt", "value", "rated_at")
#: A row of a Trakt rating the library lacks keeps what will find the item once it comes.
WAITING_COLUMNS = (
    "user_id",
    "item_key",
    "kind",
    "item_id",
    "trakt",
    "tmdb",
    "imdb",
    "tvdb",
    "season",
    "episode",
    "title",
    "value",
    "rated_at",
)
TITLE_MOST = 255  # the ledger's title column


def ledger_rows(
    user_id: int, changes: Sequence[Change]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ledger rows of these changes, as (``PAIRED_COLUMNS`` rows, ``WAITING_COLUMNS``
    rows); a change to "unrated" has none (its old row is only deleted)."""
    paired, waiting = [], []
    for c in changes:
        ref, value, at = c.ref, c.decision.value, c.decision.at
        if value is None:
            continue
        trakt_id = c.trakt_id or ref.ids.trakt
        if ref.item_id:
            paired.append((user_id, c.key, ref.kind, ref.item_id, trakt_id, value, at))
        else:
            ids = ref.ids
            waiting.append(
                (
                    user_id,
                    c.key,
                    ref.kind,
                    None,
                    trakt_id,
                    ids.tmdb,
                    ids.imdb,
                    ids.tvdb,
                    ref.season,
                    ref.episode,
                    (ref.title or "")[:TITLE_MOST],
                    value,
                    at,
                )
            )
    return paired, waiting

"""What a run's writes settle, over plain values (``sync.settlement``): which changes
Trakt did not take, what the outbox becomes, and what the ledger records. The rule
under test: nothing Trakt did not confirm is recorded as agreed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from aperture_trakt_plugin.host import ExternalIds, MediaRef
from aperture_trakt_plugin.sync.merge import (
    NOT_FOUND,
    OVER_LIMIT,
    PENDING,
    Action,
    Change,
    Decision,
)
from aperture_trakt_plugin.sync.settlement import (
    MSG_NOT_TAKEN,
    MSG_REMOVAL_NOT_TAKEN,
    MSG_UNKNOWN_IDS,
    PAIRED_COLUMNS,
    WAITING_COLUMNS,
    ledger_rows,
    outbox_after,
    recorded,
    settle,
)

T1 = datetime(2026, 1, 1, tzinfo=UTC)
CAP = "the cap's reason"


class Row(NamedTuple):
    item_id: str
    value: int | None
    at: datetime
    version: int = 1
    state: str = PENDING


def change(
    item_id: str | None, value: int | None, version: int | None = None, tmdb: int = 0
) -> Change:
    ref = MediaRef("movie", ExternalIds(tmdb=tmdb or None), item_id=item_id, title="A film")
    key = f"h:{item_id}" if item_id else f"t:movie:{tmdb}"
    return Change(key, ref, Decision(Action.TO_TRAKT, value, T1), None, version)


def held(values: dict[str, int | None]):
    return lambda ref: values.get(ref.item_id)


# --- settle ------------------------------------------------------------------------------


def test_a_change_trakt_holds_as_sent_is_taken() -> None:
    assert settle([change("1", 8)], held({"1": 8}), set(), [], "") == {}
    assert settle([change("1", None)], held({}), set(), [], "") == {}  # removed: gone


def test_a_change_trakt_does_not_know_is_not_found() -> None:
    assert settle([change("1", 8)], held({}), set(), [], "") == {
        "h:1": (NOT_FOUND, MSG_UNKNOWN_IDS)
    }


def test_trakt_holding_another_value_says_which() -> None:
    refused = settle([change("1", 8), change("2", None)], held({"1": 5, "2": 6}), set(), [], "")
    assert refused == {
        "h:1": (NOT_FOUND, MSG_NOT_TAKEN.format(held=5)),
        "h:2": (NOT_FOUND, MSG_REMOVAL_NOT_TAKEN.format(held=6)),
    }


def test_the_cap_refuses_what_trakt_does_not_hold_of_its_batch_and_all_unsent() -> None:
    batch = [change("1", 8), change("2", 9)]
    refused = settle(batch, held({"1": 8}), {"h:1", "h:2"}, [change("3", 7)], CAP)
    assert refused == {"h:2": (OVER_LIMIT, CAP), "h:3": (OVER_LIMIT, CAP)}


# --- the outbox ----------------------------------------------------------------------------


def test_a_pull_with_no_outbox_and_nothing_held_back_has_no_outbox_work() -> None:
    assert outbox_after([change("1", 8)], {}, set(), {}) == ([], [], [])


def test_a_deferred_change_is_put_in_the_outbox_once() -> None:
    after = outbox_after(
        [change("1", 8), change("2", 9, 1)], {"2": Row("2", 9, T1)}, {"h:1", "h:2"}, {}
    )
    assert after.added == [("1", 8, T1, PENDING, None)]
    assert after.refused == [] and after.done == []


def test_a_refused_change_is_kept_with_its_reason_unless_changed_since() -> None:
    rows = {"2": Row("2", 9, T1, version=2), "3": Row("3", 4, T1, version=5)}
    changes = [change("1", 8), change("2", 9, 2), change("3", 4, 4)]
    reason = (NOT_FOUND, MSG_UNKNOWN_IDS)
    after = outbox_after(changes, rows, set(), {"h:1": reason, "h:2": reason, "h:3": reason})
    assert after.added == [("1", 8, T1, NOT_FOUND, MSG_UNKNOWN_IDS)]
    assert after.refused == [(rows["2"], NOT_FOUND, MSG_UNKNOWN_IDS)]
    assert after.done == []  # row 3 changed to version 5 meanwhile: it stays pending


def test_a_row_on_both_sides_leaves_at_its_version_only() -> None:
    rows = {"1": Row("1", 8, T1, version=3), "2": Row("2", 9, T1, version=7)}
    after = outbox_after([change("1", 8, 3), change("2", 9, 6)], rows, set(), {})
    assert after.done == [("1", 3)]


# --- the ledger ----------------------------------------------------------------------------


def test_the_ledger_records_only_what_both_sides_hold() -> None:
    changes = [change("1", 8), change("2", 9), change("3", 7)]
    assert recorded(changes, {}, set()) is changes
    assert [c.key for c in recorded(changes, {"h:1": (NOT_FOUND, "")}, {"h:3"})] == ["h:2"]


def test_ledger_rows_pair_library_items_and_keep_ids_of_the_rest() -> None:
    paired, waiting = ledger_rows(7, [change("1", 8), change(None, 6, tmdb=555), change("2", None)])
    assert [dict(zip(PAIRED_COLUMNS, row, strict=True)) for row in paired] == [
        {
            "user_id": 7,
            "item_key": "h:1",
            "kind": "movie",
            "item_id": "1",
            "trakt": None,
            "value": 8,
            "rated_at": T1,
        }
    ]
    (row,) = (dict(zip(WAITING_COLUMNS, row, strict=True)) for row in waiting)
    assert row["item_key"] == "t:movie:555" and row["item_id"] is None
    assert row["tmdb"] == 555 and row["title"] == "A film" and row["value"] == 6


def test_a_waiting_rows_title_fits_its_column() -> None:
    long = change(None, 6, tmdb=555)._replace(
        ref=MediaRef("movie", ExternalIds(tmdb=555), title="x" * 400)
    )
    _, (row,) = ledger_rows(7, [long])
    assert len(row[WAITING_COLUMNS.index("title")]) == 255

"""The plan of one user's sync, over plain values: ``sync.merge.plan``, ``pair`` and
``push_plan``. Rows stand in for the tables (a ledger row, an outbox row), a dict for the
library; no database, Redis or Trakt.

Times: T1 < T2 < T3; ``REMOVED`` is when a rating missing on Trakt counts as removed
(the time of Trakt's ratings activity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aperture_trakt_plugin.host import ExternalIds, HostRating, MediaRef
from aperture_trakt_plugin.sync import merge
from aperture_trakt_plugin.sync.merge import (
    NOT_FOUND,
    OVER_LIMIT,
    PENDING,
    Action,
    library_id,
    library_key,
    pair,
    plan,
    push_plan,
)
from aperture_trakt_plugin.trakt.wire import TraktRating

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1, T2, T3, REMOVED = (T0 + timedelta(minutes=n) for n in (1, 2, 3, 4))
ALL_READ = {"movies": REMOVED, "shows": REMOVED, "seasons": REMOVED, "episodes": REMOVED}


class Ledger(NamedTuple):
    value: int
    rated_at: datetime
    kind: str = "movie"
    item_id: str | None = None
    trakt: int | None = None
    tmdb: int | None = None
    imdb: str | None = None
    tvdb: int | None = None
    season: int | None = None
    episode: int | None = None
    title: str | None = None


class Outbox(NamedTuple):
    item_id: str
    value: int | None
    at: datetime
    version: int = 1
    state: str = PENDING


def movie(item_id: str | None, tmdb: int, title: str = "") -> MediaRef:
    return MediaRef("movie", ExternalIds(tmdb=tmdb), item_id=item_id, title=title)


LIBRARY = {"1": movie("1", 101, "Heat"), "2": movie("2", 102, "Ran"), "3": movie("3", 103)}


def rated(item_id: str, value: int, at: datetime) -> HostRating:
    return HostRating(7, LIBRARY[item_id], value, at, "host")


def on_trakt(*items: tuple[str, int, datetime]) -> dict:
    """Trakt's ratings of library items, as ``pair`` gives them for unrated ones."""
    return {
        library_key(item_id): (
            TraktRating(movie(None, LIBRARY[item_id].ids.tmdb), 900 + int(item_id), value, at),
            LIBRARY[item_id],
        )
        for item_id, value, at in items
    }


def run(ledger=None, outbox=None, host=None, trakt=None, removed_at=ALL_READ):
    return plan(
        ledger or {},
        outbox or {},
        host or {},
        trakt or {},
        removed_at,
        LIBRARY.get,
    )


def one(changes):
    (change,) = changes
    return change


def test_keys_name_library_items_and_nothing_else() -> None:
    assert library_key("42") == "h:42"
    assert library_id("h:42") == "42"
    assert library_id("t:movie:901") is None
    assert library_id(library_key("h:odd")) == "h:odd"  # the prefix is cut once


def test_a_first_sync_takes_trakts_rating_of_a_library_item() -> None:
    change = one(run(trakt=on_trakt(("1", 8, T1))))
    assert change.key == "h:1" and change.ref == LIBRARY["1"]
    assert change.decision == (Action.TO_HOST, 8, T1, False, "")
    assert change.trakt_id == 901 and change.outbox_version is None


def test_a_host_rating_trakt_never_had_goes_to_trakt() -> None:
    change = one(run(host={"2": rated("2", 6, T2)}))
    assert change.decision.action is Action.TO_TRAKT and change.decision.value == 6
    assert change.ref == LIBRARY["2"]


def test_nothing_changes_where_both_sides_hold_the_agreed_value() -> None:
    ledger = {"h:1": Ledger(7, T1, item_id="1")}
    assert run(ledger, host={"1": rated("1", 7, T1)}, trakt=on_trakt(("1", 7, T1))) == []


def test_a_rating_gone_from_a_type_read_on_trakt_is_removed_here_at_the_activity_time() -> None:
    ledger = {"h:1": Ledger(7, T1, item_id="1")}
    change = one(run(ledger, host={"1": rated("1", 7, T1)}))
    assert change.decision.action is Action.TO_HOST
    assert change.decision.value is None and change.decision.at == REMOVED


def test_a_type_not_read_counts_as_holding_the_agreed_value() -> None:
    ledger = {"h:1": Ledger(7, T1, item_id="1")}
    host = {"1": rated("1", 7, T1)}
    assert run(ledger, host=host, removed_at={"shows": REMOVED}) == []
    changed = one(run(ledger, host={"1": rated("1", 9, T2)}, removed_at={}))
    assert changed.decision.action is Action.TO_TRAKT and changed.decision.value == 9


def test_an_item_that_left_the_library_is_let_go_and_its_trakt_rating_stays() -> None:
    ledger = {"h:9": Ledger(5, T1, item_id="9", tmdb=109, title="Gone")}
    change = one(run(ledger))
    assert change.decision.action is Action.LET_GO
    assert change.ref.ids.tmdb == 109 and change.ref.title == "Gone"


def test_a_trakt_rating_the_library_lacks_waits_under_its_orphan_key() -> None:
    item = TraktRating(movie(None, 555, "Not here"), 777, 4, T1)
    change = one(run(trakt={item.orphan_key: (item, None)}))
    assert change.key == "t:movie:777" and change.ref.item_id is None
    assert change.decision.action is Action.TO_HOST and change.decision.value == 4


def test_a_rating_the_library_lacks_stays_while_trakt_holds_it() -> None:
    item = TraktRating(movie(None, 555), 777, 4, T1)
    ledger = {item.orphan_key: Ledger(4, T1, tmdb=555, trakt=777)}
    assert run(ledger, trakt={item.orphan_key: (item, None)}) == []


@pytest.mark.parametrize("state", [NOT_FOUND, OVER_LIMIT])
def test_a_change_trakt_did_not_take_waits_until_the_user_changes_it(state: str) -> None:
    outbox = {"2": Outbox("2", 6, T2, version=3, state=state)}
    assert run(outbox=outbox, host={"2": rated("2", 6, T2)}) == []
    changed = one(run(outbox=outbox, host={"2": rated("2", 8, T3)}))
    assert changed.decision.value == 8 and changed.outbox_version == 3


def test_a_removal_waiting_in_the_outbox_removes_on_trakt() -> None:
    ledger = {"h:1": Ledger(7, T1, item_id="1")}
    change = one(run(ledger, outbox={"1": Outbox("1", None, T2, 2)}, trakt=on_trakt(("1", 7, T1))))
    assert change.decision.action is Action.TO_TRAKT and change.decision.value is None
    assert change.outbox_version == 2


def test_a_pending_change_both_sides_already_hold_still_leaves_the_outbox() -> None:
    """NONE with an outbox row is kept, so the run deletes the row."""
    ledger = {"h:1": Ledger(7, T1, item_id="1")}
    outbox = {"1": Outbox("1", 7, T1, 4)}
    change = one(run(ledger, outbox, {"1": rated("1", 7, T1)}, on_trakt(("1", 7, T1))))
    assert change.decision.action is Action.NONE and change.outbox_version == 4


def test_changes_come_in_key_order() -> None:
    host = {"3": rated("3", 5, T1), "1": rated("1", 6, T1)}
    keys = [c.key for c in run(host=host, trakt=on_trakt(("2", 9, T1)))]
    assert keys == sorted(keys) == ["h:1", "h:2", "h:3"]


def test_pair_keeps_a_match_only_where_the_host_does_not_rate_the_item(monkeypatch) -> None:
    monkeypatch.setattr(merge, "MATCH_CHUNK", 2)  # three items: two slices
    items = [TraktRating(movie(None, tmdb), tmdb, 7, T1) for tmdb in (101, 102, 555)]
    calls = []

    def find(refs):
        calls.append(len(refs))
        by_tmdb = {ref.ids.tmdb: ref for ref in LIBRARY.values()}
        return [by_tmdb.get(ref.ids.tmdb) for ref in refs]

    paired = pair(items, find, {"2": rated("2", 3, T1)})
    assert calls == [2, 1]
    assert paired["h:1"] == (items[0], LIBRARY["1"])
    assert paired["h:2"] == (items[1], None)  # the host's rating brings the ref
    assert paired["t:movie:555"] == (items[2], None)


def test_push_plan_decides_each_pending_change_against_the_ledger() -> None:
    ledger = {"h:1": Ledger(7, T1, item_id="1")}
    outbox = [Outbox("1", 9, T2, 2), Outbox("9", 4, T2), Outbox("2", None, T2)]
    changes = push_plan(outbox, [LIBRARY["1"], None, LIBRARY["2"]], ledger)
    assert [(c.key, c.decision.action, c.decision.value) for c in changes] == [
        ("h:1", Action.TO_TRAKT, 9),
        ("h:2", Action.NONE, None),  # removing what was never agreed: only the row goes
    ]
    assert changes[0].outbox_version == 2


# --- a plan carried out leaves nothing to do ----------------------------------------------

RATING = st.one_of(st.none(), st.tuples(st.integers(1, 10), st.integers(0, 5)))
STATE = st.dictionaries(
    st.sampled_from(sorted(LIBRARY)), st.tuples(RATING, RATING, RATING), max_size=3
)


def when(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


@given(STATE)
def test_after_a_plan_is_carried_out_the_next_plan_is_empty(state) -> None:
    """Any ledger, host and Trakt ratings of library items: write every change where it
    goes (both sides and the ledger, as the run does) and plan again."""
    ledger, host, trakt = {}, {}, {}
    for item_id, (agreed, here, there) in state.items():
        if agreed:
            ledger[library_key(item_id)] = Ledger(agreed[0], when(agreed[1]), item_id=item_id)
        if here:
            host[item_id] = rated(item_id, here[0], when(here[1]))
        if there:
            trakt.update(on_trakt((item_id, there[0], when(there[1]))))
    for change in run(ledger, host=host, trakt=dict(trakt)):
        item_id, d = library_id(change.key), change.decision
        key = change.key
        if d.value is None:
            ledger.pop(key, None)
            host.pop(item_id, None)
            trakt.pop(key, None)
        else:
            ledger[key] = Ledger(d.value, d.at, item_id=item_id)
            host[item_id] = rated(item_id, d.value, d.at)
            trakt.update(on_trakt((item_id, d.value, d.at)))
    assert run(ledger, host=host, trakt=trakt) == []

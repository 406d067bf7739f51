"""The three-way merge's rule, case by case: ``sync.merge.decide(ledger, host, trakt)``.

Each row is one situation a user can make, named in words, with the ledger's agreed
rating (``base``), each side's rating now and when it last changed, and what must happen.
Times are minutes on one clock (T1 < T2 < T3); ``None`` is "unrated". A Trakt removal
carries the time of Trakt's ratings activity, as ``sync.merge.plan`` gives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest

from aperture_trakt_plugin.sync.merge import EPOCH, Action, Decision, Side, decide

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1, T2, T3 = (T0 + timedelta(minutes=n) for n in (1, 2, 3))
UNRATED = Side(None, EPOCH)


class Case(NamedTuple):
    base: Side | None
    host: Side
    trakt: Side
    action: Action
    value: int | None
    conflict: bool = False
    winner: str = ""


def s(value: int | None, at: datetime) -> Side:
    return Side(value, at)


CASES = {
    # nothing to do
    "nothing anywhere": Case(None, UNRATED, UNRATED, Action.NONE, None),
    "both still agree": Case(s(7, T1), s(7, T1), s(7, T1), Action.NONE, 7),
    "both removed what was never agreed": Case(None, s(None, T2), s(None, T3), Action.NONE, None),
    # one side changed
    "rated on the host only": Case(None, s(8, T2), UNRATED, Action.TO_TRAKT, 8),
    "rated on Trakt only": Case(None, UNRATED, s(8, T2), Action.TO_HOST, 8),
    "changed on the host": Case(s(7, T1), s(9, T2), s(7, T1), Action.TO_TRAKT, 9),
    "changed on Trakt": Case(s(7, T1), s(7, T1), s(9, T2), Action.TO_HOST, 9),
    "removed on the host": Case(s(7, T1), s(None, T2), s(7, T1), Action.TO_TRAKT, None),
    "removed on Trakt": Case(s(7, T1), s(7, T1), s(None, T2), Action.TO_HOST, None),
    # both changed
    "both changed, the host later": Case(
        s(7, T1), s(9, T3), s(5, T2), Action.TO_TRAKT, 9, True, "host"
    ),
    "both changed, Trakt later": Case(
        s(7, T1), s(9, T2), s(5, T3), Action.TO_HOST, 5, True, "trakt"
    ),
    "both changed at the same time: the host's": Case(
        s(7, T1), s(9, T2), s(5, T2), Action.TO_TRAKT, 9, True, "host"
    ),
    "both changed to the same value": Case(s(7, T1), s(9, T2), s(9, T3), Action.AGREE, 9),
    "both removed": Case(s(7, T1), s(None, T2), s(None, T3), Action.AGREE, None),
    "changed on the host, removed on Trakt later": Case(
        s(7, T1), s(9, T2), s(None, T3), Action.TO_HOST, None, True, "trakt"
    ),
    "removed on Trakt, changed on the host later": Case(
        s(7, T1), s(9, T3), s(None, T2), Action.TO_TRAKT, 9, True, "host"
    ),
    # never agreed before (first sync)
    "first sync, the same rating on both": Case(None, s(8, T1), s(8, T2), Action.AGREE, 8),
    "first sync, Trakt's rating newer": Case(
        None, s(8, T1), s(6, T2), Action.TO_HOST, 6, True, "trakt"
    ),
    "first sync, the host's rating newer": Case(
        None, s(8, T2), s(6, T1), Action.TO_TRAKT, 8, True, "host"
    ),
    # a side that spoke again with the agreed value: its time is the user's last word
    "host changed, then re-rated on Trakt as agreed": Case(
        s(7, T1), s(9, T2), s(7, T3), Action.TO_HOST, 7, True, "trakt"
    ),
    "host removed, then re-rated on Trakt as agreed": Case(
        s(7, T1), s(None, T2), s(7, T3), Action.TO_HOST, 7, True, "trakt"
    ),
    "Trakt changed, then re-rated on the host as agreed": Case(
        s(7, T1), s(7, T3), s(9, T2), Action.TO_TRAKT, 7, True, "host"
    ),
    "Trakt removed, then re-rated on the host as agreed": Case(
        s(7, T1), s(7, T3), s(None, T2), Action.TO_TRAKT, 7, True, "host"
    ),
    "re-rated on Trakt before the host's change": Case(
        s(7, T1), s(9, T3), s(7, T2), Action.TO_TRAKT, 9
    ),
    "re-rated on the host before Trakt's change": Case(
        s(7, T1), s(7, T2), s(9, T3), Action.TO_HOST, 9
    ),
    "host removed what Trakt rated, later": Case(
        None, s(None, T3), s(6, T2), Action.TO_TRAKT, None, True, "host"
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_decide(name: str) -> None:
    case = CASES[name]
    decision = decide(case.base, case.host, case.trakt)
    assert (decision.action, decision.value, decision.conflict, decision.winner) == (
        case.action,
        case.value,
        case.conflict,
        case.winner,
    )


def test_the_decision_carries_the_winning_sides_time() -> None:
    """The time written with a rating (Trakt's ``rated_at``, the host's rating time) is the
    time the user gave it, never the sync's: it decides the next conflict."""
    assert decide(s(7, T1), s(9, T2), s(7, T1)).at == T2
    assert decide(s(7, T1), s(7, T1), s(9, T3)).at == T3
    assert decide(s(7, T1), s(9, T2), s(9, T3)) == Decision(Action.AGREE, 9, T3)
    assert decide(s(7, T1), s(7, T1), s(7, T1)).at == T1

"""The merge rule over any history: a hypothesis state machine of one user, two sides
and the ledger, all in memory.

Rules rate and unrate titles on either side as time goes on; ``sync`` decides every
title with ``sync.merge.decide`` and applies the decisions as ``sync.merge.plan`` and the run do
(a write to Trakt carries the host's time, a removal on Trakt moves Trakt's removal
time to the moment of the write, the host's pending removal is settled). After each
sync:

* both sides and the ledger hold the same rating of every title;
* each title has the value of the user's last word on it since the previous sync,
  whichever side it was said on (an equal value said again counts as a word too),
  except that removing on Trakt a rating never agreed is no word (Trakt cannot tell it
  from "never rated there": ``decide``'s docstring), so the host's rating stands;
* a second sync at once changes nothing.

The model gives each Trakt removal its own time. Trakt itself keeps one removal time
per type (its ratings activity), so the real plan can only be as good as this when at
most one removal per type happened between two syncs; the end-to-end convergence tests
(``tests/test_sync_convergence.py``) cover the real thing against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from aperture_trakt_plugin.sync.merge import EPOCH, Action, Side, decide

TITLES = st.sampled_from(["heat", "ronin", "alien", "fargo"])
VALUES = st.integers(min_value=1, max_value=10)
START = datetime(2026, 1, 1, tzinfo=UTC)


class OneUser(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.host: dict[str, Side] = {}
        self.host_removed: dict[str, datetime] = {}  # the outbox's pending removals
        self.trakt: dict[str, Side] = {}
        self.trakt_removed: dict[str, datetime] = {}
        self.ledger: dict[str, Side] = {}
        self.last_word: dict[str, int | None] = {}  # since the last sync
        self.synced = False

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    # --- what the user does ------------------------------------------------------------

    @rule(title=TITLES, value=VALUES)
    def rate_on_host(self, title: str, value: int) -> None:
        self.host[title] = Side(value, self.tick())
        self.host_removed.pop(title, None)
        self.last_word[title] = value

    @rule(title=TITLES)
    def unrate_on_host(self, title: str) -> None:
        if self.host.pop(title, None) is not None:
            self.host_removed[title] = self.tick()
            self.last_word[title] = None

    @rule(title=TITLES, value=VALUES)
    def rate_on_trakt(self, title: str, value: int) -> None:
        self.trakt[title] = Side(value, self.tick())
        self.last_word[title] = value

    @rule(title=TITLES)
    def unrate_on_trakt(self, title: str) -> None:
        if self.trakt.pop(title, None) is not None:
            self.trakt_removed[title] = self.tick()
            # Removing a rating the ledger never agreed on is no word the merge can hear
            # (Trakt keeps no removal time per title): the host's own word stands.
            self.last_word[title] = (
                None
                if title in self.ledger
                else (self.host[title].value if title in self.host else None)
            )

    # --- the sync ----------------------------------------------------------------------

    def host_side(self, title: str) -> Side:
        if title in self.host:
            return self.host[title]
        return Side(None, self.host_removed.get(title, EPOCH))

    def trakt_side(self, title: str) -> Side:
        if title in self.trakt:
            return self.trakt[title]
        return Side(None, self.trakt_removed.get(title, EPOCH))

    def run_sync(self) -> list[Action]:
        actions = []
        titles = sorted(
            set(self.host) | set(self.host_removed) | set(self.trakt) | set(self.ledger)
        )
        for title in titles:
            decision = decide(self.ledger.get(title), self.host_side(title), self.trakt_side(title))
            actions.append(decision.action)
            if decision.action is Action.TO_TRAKT:
                if decision.value is None:
                    self.trakt.pop(title, None)
                    self.trakt_removed[title] = self.tick()
                else:
                    self.trakt[title] = Side(decision.value, decision.at)
            elif decision.action is Action.TO_HOST:
                if decision.value is None:
                    self.host.pop(title, None)
                else:
                    self.host[title] = Side(decision.value, decision.at)
            self.host_removed.pop(title, None)
            if decision.value is None:
                self.ledger.pop(title, None)
            else:
                self.ledger[title] = Side(decision.value, decision.at)
        return actions

    @rule()
    def sync(self) -> None:
        words = dict(self.last_word)
        self.run_sync()
        for title, word in words.items():
            agreed = self.ledger.get(title)
            assert (agreed.value if agreed else None) == word, (
                f"{title}: the user's last word was {word}, the sync agreed on {agreed}"
            )
        self.last_word.clear()
        self.synced = True
        assert set(self.run_sync()) <= {Action.NONE}, "a second sync changed something"

    @precondition(lambda self: self.synced and not self.last_word)
    @invariant()
    def sides_agree_after_a_sync(self) -> None:
        titles = set(self.host) | set(self.trakt) | set(self.ledger)
        for title in titles:
            host, trakt = self.host.get(title), self.trakt.get(title)
            agreed = self.ledger.get(title)
            assert (host and host.value) == (trakt and trakt.value) == (agreed and agreed.value), (
                title
            )


OneUser.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
test_one_user = OneUser.TestCase

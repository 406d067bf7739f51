"""Property: however rating, re-rating and unrating on both sides interleave with pushes
and syncs, both sides end up holding the newest-wins result, and nothing removed comes
back (issue #5).

Hypothesis draws one timeline per example. Every step happens at a strictly later moment
of the sandbox's clock (it is moved on ten seconds first): host events carry that moment
as their ``rated_at``/``removed_at`` and go through the host's services with source
``aperture`` (so the plugin's hooks fill the outbox, as a user's click would); Trakt events
go through the sandbox's API as the user, with that moment as ``rated_at``. Pushes and
syncs run the plugin's own entry points in process. At the end the plugin syncs twice;
then the host, Trakt and the oracle must agree, and the second sync must cost one call.

The oracle is the plain truth: per movie, the last event of either side wins, and an
unrate leaves it unrated. Two facts of Trakt make that truth unknowable to any client in
some timelines, and the generator leaves exactly those out rather than teaching the
oracle the plugin's guesses (a "window" is the time between two runs that read Trakt):

* Trakt keeps no removal time. The plugin dates a removal made on Trakt at the latest
  ratings write of the window (``/sync/last_activities``), the latest moment it can have
  happened. That is exact unless a host event on the same movie falls between the
  removal and a later Trakt write of the window, so after such a host event no Trakt
  event is drawn until the window closes.
* Trakt keeps no history: a movie it lacked when the window opened, rated and unrated
  there within the window, looks untouched. So a Trakt unrate is drawn only for a movie
  Trakt held when the window opened.

Everything else may happen, any number of times per window: the host's outbox keeps the
time of its last change, and a Trakt rating carries its own. Every event is a real change
of what its side shows (a new value, or unrating a rated movie), as a user's click is.
Inside those bounds every timeline has one right answer and the test asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.usecases import jobs
from tests.sync_helpers import (
    LIBRARY_MOVIES,
    fresh_connection,
    host_ratings,
    let_write_spacing_pass,
    plugin_rows,
    rate_on_host,
    rate_on_trakt,
    sandbox_now,
    trakt_ratings,
    unrate_on_host,
    unrate_on_trakt,
    values,
)

pytestmark = [pytest.mark.trakt]

USER, TRAKT_USER = "alice", "alice_trakt"
STEP_SECONDS = 10
MAX_STEPS = 12


@dataclass
class Timeline:
    """One example's world: the live sides, the oracle, and what the open window saw."""

    host_app: object
    sandbox: object
    uid: int
    token: str
    truth: dict[int, int | None] = field(default_factory=dict)
    held_at_open: set[int] = field(default_factory=set)  # movies Trakt held, window open
    removed_on_trakt: set[int] = field(default_factory=set)  # this window
    trakt_frozen: bool = False  # a host event followed a Trakt removal of its movie
    log: list[str] = field(default_factory=list)

    def steps(self) -> st.SearchStrategy[tuple]:
        """What may happen next, given what each side shows now (see the module doc)."""
        host = values(host_ratings(self.host_app, USER))
        trakt = values(trakt_ratings(self.sandbox, TRAKT_USER))
        choices: list[st.SearchStrategy[tuple]] = [st.just(("push",)), st.just(("sync",))]
        for side, shown in (("host", host), ("trakt", trakt)):
            if side == "trakt" and self.trakt_frozen:
                continue
            for movie in LIBRARY_MOVIES:
                others = [v for v in range(1, 11) if v != shown.get(movie)]
                choices.append(
                    st.tuples(
                        st.just(side), st.just("rate"), st.just(movie), st.sampled_from(others)
                    )
                )
                if movie in shown and (side == "host" or movie in self.held_at_open):
                    choices.append(st.just((side, "unrate", movie)))
        return st.one_of(choices)

    def play(self, step: tuple) -> sync.SyncResult | dict | None:
        self.sandbox.advance_clock(STEP_SECONDS)
        at = sandbox_now(self.sandbox)
        let_write_spacing_pass(self.host_app, self.uid)
        self.log.append(f"{at:%H:%M:%S} {step}")
        if step[0] in ("push", "sync"):
            return self.run(step[0])
        side, verb, movie = step[:3]
        value = step[3] if verb == "rate" else None
        if side == "host":
            if movie in self.removed_on_trakt:
                self.trakt_frozen = True
            if value is None:
                unrate_on_host(self.host_app, USER, movie, at)
            else:
                rate_on_host(self.host_app, USER, movie, value, at)
        elif value is None:
            unrate_on_trakt(self.sandbox, self.token, movie)
            self.removed_on_trakt.add(movie)
        else:
            rate_on_trakt(self.sandbox, self.token, movie, value, at)
        self.truth[movie] = value
        return None

    def run(self, kind: str) -> sync.SyncResult | dict:
        with self.host_app.app_context():
            if kind == "push":
                result = jobs.push_user(self.uid)
                reads_trakt = result["status"] != "unchanged"  # an empty outbox reads nothing
            else:
                result = sync.sync_user_ratings(self.uid)
                reads_trakt = True
        self.log.append(f"    -> {result['status'] if isinstance(result, dict) else result}")
        if reads_trakt:
            self.open_window()
        return result

    def open_window(self) -> None:
        self.held_at_open = set(trakt_ratings(self.sandbox, TRAKT_USER))
        self.removed_on_trakt.clear()
        self.trakt_frozen = False


@settings(
    max_examples=60,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_both_sides_converge_to_the_newest_rating(host_app, sandbox, data):
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    timeline = Timeline(host_app, sandbox, uid, sandbox.issue_tokens(TRAKT_USER)["access_token"])
    timeline.open_window()
    for _ in range(data.draw(st.integers(1, MAX_STEPS), label="steps")):
        timeline.play(data.draw(timeline.steps(), label="step"))

    timeline.play(("sync",))
    second = timeline.play(("sync",))
    story = "\n".join(timeline.log)
    expected = {movie: v for movie, v in timeline.truth.items() if v is not None}
    assert values(host_ratings(host_app, USER)) == expected, story
    assert values(trakt_ratings(sandbox, TRAKT_USER)) == expected, story
    assert (second.status, second.api_calls) == ("unchanged", 1), story
    ledger, outbox = plugin_rows(host_app, USER)
    assert outbox == 0, story
    assert sorted(ledger.values()) == sorted(expected.values()), story


def test_a_rating_removed_on_the_host_last_does_not_come_back(host_app, sandbox):
    """The smallest timeline hypothesis found before ``decide`` weighed times: rated on
    the host, then on Trakt, then unrated on the host, all before one sync. The host's
    value is back to the agreed "unrated", but its removal is the newest word."""
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    timeline = Timeline(host_app, sandbox, uid, sandbox.issue_tokens(TRAKT_USER)["access_token"])
    for step in [
        ("host", "rate", LIBRARY_MOVIES[0], 5),
        ("trakt", "rate", LIBRARY_MOVIES[0], 7),
        ("host", "unrate", LIBRARY_MOVIES[0]),
        ("sync",),
    ]:
        timeline.play(step)
    assert host_ratings(host_app, USER) == {} and trakt_ratings(sandbox, TRAKT_USER) == {}

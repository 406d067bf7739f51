"""No rating is recorded as agreed unless Trakt confirmed it (issue #14).

Trakt's ``not_found`` is no faithful echo (CONTRACT 6.3): entries come back without ids,
as ``{}``, with reshaped ids or nested under a show. A push used to count an item as
taken unless ``not_found`` echoed its ids exactly, so an episode Trakt does not know was
recorded as agreed, and the next pull that read episodes took its rating off the host.
Here every shape Trakt has been seen to send, played by the sandbox on a real write and
by the three recorded bodies, leaves the host's rating in place and listed in status.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.storage.models import TraktOutbox
from aperture_trakt_plugin.sync import settlement
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import user_id
from tests.integration.test_sync_convergence import MAX_STEPS, STEP_SECONDS, Timeline
from tests.sync_helpers import (
    MATRIX,
    fresh_connection,
    host_ratings,
    let_write_spacing_pass,
    plugin_rows,
    rate_on_host,
    sandbox_now,
    services,
    set_not_found_shape,
    trakt_ratings,
    values,
)

pytestmark = [pytest.mark.trakt]

USER, TRAKT_USER = "alice", "alice_trakt"
SEINFELD = {"tmdb": 1400, "imdb": "tt0098904", "tvdb": 79169}
OBSERVED = Path(__file__).parents[1] / "samples" / "not_found_observed"
SHAPES = ("echo", "no_ids", "empty", "nested", "random")


@pytest.fixture()
def alice(host_app, sandbox) -> int:
    return fresh_connection(host_app, sandbox, USER, TRAKT_USER)


def add_unknown_episode(host_app, season: int = 1, number: int = 99) -> str:
    """An episode this library holds and Trakt does not: Seinfeld S01E99."""
    from harness.reference_host.db import db
    from harness.reference_host.models import MediaItem

    with host_app.app_context():
        season_row = (
            db.session.query(MediaItem)
            .filter_by(kind="season", tmdb=SEINFELD["tmdb"], season_number=season)
            .one()
        )
        episode = MediaItem(
            kind="episode",
            title=f"Seinfeld S{season:02d}E{number:02d}",
            parent_id=season_row.id,
            season_number=season,
            episode_number=number,
            **SEINFELD,
        )
        db.session.add(episode)
        db.session.commit()
        return str(episode.id)


def add_unknown_movie(host_app) -> str:
    from harness.reference_host.db import db
    from harness.reference_host.models import MediaItem

    with host_app.app_context():
        movie = MediaItem(
            kind="movie", title="A Home Movie", year=2025, tmdb=999_999_001, imdb="tt99999901"
        )
        db.session.add(movie)
        db.session.commit()
        return str(movie.id)


def rate_item_on_host(host_app, sandbox, item: str, value: int) -> None:
    with host_app.app_context():
        services(host_app).apply_rating(
            user_id(host_app, USER), item, value, sandbox_now(sandbox), "aperture"
        )


def host_value(host_app, item: str) -> int | None:
    with host_app.app_context():
        held = {
            r.media.item_id: r.value
            for r in services(host_app).list_ratings(user_id(host_app, USER))
        }
    return held.get(item)


def rate_episode_on_trakt(sandbox, number: int, value: int) -> None:
    """What the user does on trakt.tv: rate a Seinfeld episode Trakt knows (moves
    ``episodes.rated_at``, so the next pull reads the episodes)."""
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    response = sandbox.api(
        "POST",
        "/sync/ratings",
        token=token,
        json={
            "shows": [
                {
                    "ids": {"tmdb": SEINFELD["tmdb"]},
                    "seasons": [{"number": 1, "episodes": [{"number": number, "rating": value}]}],
                }
            ]
        },
    )
    assert response.status_code == 201, response.text


def status_output(host_app) -> str:
    result = host_app.test_cli_runner().invoke(args=["trakt", "status", "--user", USER])
    assert result.exit_code == 0, result.output
    return result.output


def next_moment(host_app, sandbox, uid: int) -> None:
    sandbox.advance_clock(5)
    let_write_spacing_pass(host_app, uid)


@pytest.mark.parametrize("shape", SHAPES)
def test_an_episode_trakt_does_not_know_keeps_its_host_rating(alice, host_app, sandbox, shape):
    """The reviewer's example: rate Seinfeld S01E99 here; Trakt does not know it. The
    push must say so, and a later pull that reads episodes must leave the rating."""
    set_not_found_shape(sandbox, shape, seed=14)
    episode = add_unknown_episode(host_app)
    rate_item_on_host(host_app, sandbox, episode, 8)
    with host_app.app_context():
        pushed = jobs.push_user(alice)
    assert (pushed["pushed"], pushed["not_found"]) == (0, 1), pushed

    next_moment(host_app, sandbox, alice)
    rate_episode_on_trakt(sandbox, 1, 7)  # any later rating change on Trakt's episodes
    next_moment(host_app, sandbox, alice)
    with host_app.app_context():
        pulled = sync.sync_user_ratings(alice)
    assert pulled.pulled == 1 and pulled.pulled_removals == 0, pulled
    assert host_value(host_app, episode) == 8
    ledger, _ = plugin_rows(host_app, USER)
    assert f"h:{episode}" not in ledger  # never recorded as agreed with Trakt
    shown = status_output(host_app)
    assert "Seinfeld S01E99" in shown and settlement.MSG_UNKNOWN_IDS in shown, shown


@pytest.mark.parametrize("shape", SHAPES)
def test_known_and_unknown_items_in_one_batch(alice, host_app, sandbox, shape):
    """Trakt's counts confirm what it took; only the rest is checked and kept back."""
    set_not_found_shape(sandbox, shape, seed=7)
    episode, movie = add_unknown_episode(host_app), add_unknown_movie(host_app)
    at = sandbox_now(sandbox)
    rate_on_host(host_app, USER, MATRIX, 9, at)
    rate_item_on_host(host_app, sandbox, episode, 6)
    rate_item_on_host(host_app, sandbox, movie, 10)
    with host_app.app_context():
        result = jobs.push_user(alice)
    assert (result["pushed"], result["not_found"]) == (1, 2), result
    assert trakt_ratings(sandbox, TRAKT_USER)[MATRIX][0] == 9
    ledger, outbox = plugin_rows(host_app, USER)
    assert list(ledger.values()) == [9] and outbox == 2
    shown = status_output(host_app)
    assert "A Home Movie" in shown and "Seinfeld S01E99" in shown, shown


@pytest.mark.parametrize("sample", sorted(p.name for p in OBSERVED.glob("*.json")))
def test_recorded_not_found_answers_confirm_nothing(alice, host_app, sandbox, sample):
    """Trakt's own reshaped answers (no ids, ``{}``, reshaped ids), sent back to a push
    of a title Trakt does know: their counts say nothing was added, so the plugin reads
    what Trakt holds, finds nothing, and keeps the host's rating with its reason."""
    body = json.loads((OBSERVED / sample).read_text())
    sandbox.fault("POST", "/sync/ratings", status=201, body=body)
    at = sandbox_now(sandbox)
    rate_on_host(host_app, USER, MATRIX, 7, at)
    with host_app.app_context():
        result = jobs.push_user(alice)
    assert (result["pushed"], result["not_found"]) == (0, 1), result
    assert MATRIX not in trakt_ratings(sandbox, TRAKT_USER)
    ledger, _ = plugin_rows(host_app, USER)
    assert ledger == {}
    assert host_ratings(host_app, USER)[MATRIX][0] == 7
    assert "The Matrix" in status_output(host_app)

    # The user changes it: the new value goes out, and this time Trakt takes it.
    sandbox.advance_clock(5)
    let_write_spacing_pass(host_app, alice)
    rate_on_host(host_app, USER, MATRIX, 8, at + timedelta(seconds=5))
    with host_app.app_context():
        again = jobs.push_user(alice)
    assert (again["pushed"], again["not_found"]) == (1, 0), again
    assert trakt_ratings(sandbox, TRAKT_USER)[MATRIX][0] == 8
    with host_app.app_context():
        left = services(host_app).db.session.query(TraktOutbox).filter_by(user_id=alice)
        assert left.count() == 0


# --- property: reshaped answers never cost a host rating ------------------------------


class ReshapedTimeline(Timeline):
    """The convergence test's world (``integration/test_sync_convergence.py``), plus titles this
    library holds and Trakt does not, rated and unrated on the host only, while the
    sandbox reshapes every ``not_found`` it sends (``random``, within CONTRACT 6.3)."""

    unknown: dict[int, str]

    def steps(self) -> st.SearchStrategy[tuple]:
        held = {
            tmdb
            for tmdb, item in self.unknown.items()
            if host_value(self.host_app, item) is not None
        }
        choices = [super().steps()]
        for tmdb in self.unknown:
            choices.append(
                st.tuples(st.just("host"), st.just("rate"), st.just(tmdb), st.integers(1, 10))
            )
            if tmdb in held:
                choices.append(st.just(("host", "unrate", tmdb)))
        return st.one_of(choices)

    def play(self, step: tuple) -> sync.SyncResult | dict | None:
        if step[0] != "host" or step[2] not in self.unknown:
            return super().play(step)
        self.sandbox.advance_clock(STEP_SECONDS)
        at = sandbox_now(self.sandbox)
        self.log.append(f"{at:%H:%M:%S} {step}")
        with self.host_app.app_context():
            host = services(self.host_app)
            if step[1] == "rate":
                host.apply_rating(self.uid, self.unknown[step[2]], step[3], at, "aperture")
            else:
                host.remove_rating(self.uid, self.unknown[step[2]], at, "aperture")
        self.truth[step[2]] = step[3] if step[1] == "rate" else None
        return None


@pytest.fixture()
def unknown_titles(host_app) -> dict[int, str]:
    """Two titles Trakt does not know, added to the library once (examples share it)."""
    return {999_999_001: add_unknown_movie(host_app), -1: add_unknown_episode(host_app)}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_randomly_reshaped_answers_still_converge_and_lose_nothing(
    host_app, sandbox, data, unknown_titles
):
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    set_not_found_shape(sandbox, "random", seed=data.draw(st.integers(0, 2**16), label="seed"))
    timeline = ReshapedTimeline(
        host_app, sandbox, uid, sandbox.issue_tokens(TRAKT_USER)["access_token"]
    )
    timeline.unknown = unknown_titles
    timeline.open_window()
    for _ in range(data.draw(st.integers(1, MAX_STEPS), label="steps")):
        timeline.play(data.draw(timeline.steps(), label="step"))

    timeline.play(("sync",))
    second = timeline.play(("sync",))
    story = "\n".join(timeline.log)
    truth = {key: v for key, v in timeline.truth.items() if v is not None}
    known = {key: v for key, v in truth.items() if key not in unknown_titles}
    assert values(host_ratings(host_app, USER)) == {
        key: v for key, v in truth.items() if key > 0
    }, story  # movies; -1 is the episode
    for key, item in unknown_titles.items():  # every host rating Trakt lacks is still here
        assert host_value(host_app, item) == truth.get(key), story
    assert values(trakt_ratings(sandbox, TRAKT_USER)) == known, story
    assert (second.status, second.api_calls) == ("unchanged", 1), story
    with host_app.app_context():
        rows = services(host_app).db.session.query(TraktOutbox).filter_by(user_id=uid).all()
    kept = {row.item_id: row.state for row in rows}
    waiting = {unknown_titles[key]: sync.NOT_FOUND for key in truth if key in unknown_titles}
    assert kept == waiting, story

"""The rating sync's everyday paths, in process, against the sandbox.

Push (a host rating reaches Trakt with its own time), pull (a Trakt rating and a Trakt
removal reach the host, marked as Trakt's), no echo, the one-call unchanged run, the
dry run and the mass-removal guard.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.storage.models import TraktOutbox
from aperture_trakt_plugin.trakt.wire import trakt_time
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import configure_trakt, connect_with_tokens, user_id

pytestmark = [pytest.mark.trakt, pytest.mark.both_databases]

MATRIX, FIGHT_CLUB, INCEPTION = 603, 550, 27205
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture()
def alice(host_app, sandbox):
    """Alice, connected as alice_trakt, after her first (empty) sync."""
    configure_trakt(host_app, sandbox)
    conn = connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    with host_app.app_context():
        sync.sync_user_ratings(user_id(host_app, "alice"))
    return conn


def item(host_app, tmdb: int) -> str:
    from aperture_trakt_plugin.host import ExternalIds

    with host_app.app_context():
        ref = host_app.extensions["aperture_host"].find_media("movie", ExternalIds(tmdb=tmdb))
    return ref.item_id


def host_ratings(host_app, name: str) -> dict[str, tuple[int, str]]:
    with host_app.app_context():
        return {
            r.media.item_id: (r.value, r.source)
            for r in host_app.extensions["aperture_host"].list_ratings(user_id(host_app, name))
        }


def trakt_ratings(sandbox, username: str) -> dict[int, tuple[int, str]]:
    return {
        r["movie"]["ids"]["tmdb"]: (r["rating"], r["rated_at"])
        for r in sandbox.ratings(username)
        if r.get("type", "movie") == "movie"
    }


def rate_on_trakt(sandbox, username: str, tmdb: int, value: int, at: datetime) -> None:
    token = sandbox.issue_tokens(username)["access_token"]
    sandbox.advance_clock(2)  # past the one-write-per-second window
    response = sandbox.api(
        "POST",
        "/sync/ratings",
        token=token,
        json={"movies": [{"rating": value, "rated_at": trakt_time(at), "ids": {"tmdb": tmdb}}]},
    )
    assert response.status_code == 201, response.text
    sandbox.advance_clock(2)  # and past it again, so the plugin's own write is not refused


def test_a_host_rating_is_pushed_with_its_own_time(alice, host_app, sandbox):
    uid = user_id(host_app, "alice")
    with host_app.app_context():
        host_app.extensions["aperture_host"].apply_rating(
            uid, item(host_app, MATRIX), 8, T0, "aperture"
        )
        assert (
            host_app.extensions["aperture_host"].db.session.get(
                TraktOutbox, (uid, item(host_app, MATRIX))
            )
            is not None
        )
        result = jobs.push_user(uid)
    assert (result["status"], result["pushed"]) == ("pushed", 1)
    assert trakt_ratings(sandbox, "alice_trakt") == {MATRIX: (8, "2026-11-01T12:00:00.000Z")}
    with host_app.app_context():
        assert (
            host_app.extensions["aperture_host"].db.session.get(
                TraktOutbox, (uid, item(host_app, MATRIX))
            )
            is None
        )


def test_trakt_changes_are_pulled_and_never_echoed_back(alice, host_app, sandbox):
    uid = user_id(host_app, "alice")
    rate_on_trakt(sandbox, "alice_trakt", FIGHT_CLUB, 9, T0)
    with host_app.app_context():
        result = sync.sync_user_ratings(uid)
    assert (result.status, result.pulled) == ("synced", 1)
    assert host_ratings(host_app, "alice") == {item(host_app, FIGHT_CLUB): (9, "trakt")}
    with host_app.app_context():  # the host's write fired the hook, which ignored it
        assert not host_app.extensions["aperture_host"].db.session.query(TraktOutbox).count()

    token = sandbox.issue_tokens("alice_trakt")["access_token"]
    sandbox.advance_clock(2)
    sandbox.api(
        "POST",
        "/sync/ratings/remove",
        token=token,
        json={"movies": [{"ids": {"tmdb": FIGHT_CLUB}}]},
    )
    with host_app.app_context():
        result = sync.sync_user_ratings(uid)
    assert result.pulled_removals == 1
    assert host_ratings(host_app, "alice") == {}


def test_an_unchanged_user_costs_one_call(alice, host_app, sandbox):
    sandbox.clear_requests()
    with host_app.app_context():
        result = sync.sync_user_ratings(user_id(host_app, "alice"))
    assert (result.status, result.api_calls) == ("unchanged", 1)
    assert [r["path"] for r in sandbox.requests()] == ["/sync/last_activities"]


def test_both_changed_the_newer_wins_and_equal_times_go_to_the_host(alice, host_app, sandbox):
    uid = user_id(host_app, "alice")
    host = host_app.extensions["aperture_host"]
    with host_app.app_context():
        host.apply_rating(uid, item(host_app, MATRIX), 5, T0, "aperture")
        host.apply_rating(uid, item(host_app, INCEPTION), 6, T0 + timedelta(hours=2), "aperture")
    rate_on_trakt(sandbox, "alice_trakt", MATRIX, 9, T0 + timedelta(hours=1))  # newer
    rate_on_trakt(sandbox, "alice_trakt", INCEPTION, 3, T0 + timedelta(hours=2))  # same time
    with host_app.app_context():
        result = sync.sync_user_ratings(uid)
    assert len(result.conflicts) == 2
    assert host_ratings(host_app, "alice")[item(host_app, MATRIX)] == (9, "trakt")
    assert host_ratings(host_app, "alice")[item(host_app, INCEPTION)] == (6, "aperture")
    assert trakt_ratings(sandbox, "alice_trakt")[INCEPTION][0] == 6


def test_dry_run_plans_and_changes_nothing(alice, host_app, sandbox):
    rate_on_trakt(sandbox, "alice_trakt", FIGHT_CLUB, 9, T0)
    result = host_app.test_cli_runner().invoke(
        args=["trakt", "sync", "--user", "alice", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "this server: movie Fight Club set to 9" in result.output
    assert host_ratings(host_app, "alice") == {}


def test_a_pull_that_would_remove_most_ratings_waits_for_confirmation(alice, host_app, sandbox):
    uid = user_id(host_app, "alice")
    movies = [m for m in sandbox.catalogue()["movies"] if m.get("in_library")][:30]
    token = sandbox.issue_tokens("alice_trakt")["access_token"]
    sandbox.advance_clock(2)
    sandbox.api(
        "POST",
        "/sync/ratings",
        token=token,
        json={
            "movies": [
                {"rating": 7, "rated_at": trakt_time(T0), "ids": {"tmdb": m["ids"]["tmdb"]}}
                for m in movies
            ]
        },
    )
    with host_app.app_context():
        assert sync.sync_user_ratings(uid).pulled == 30
    sandbox.advance_clock(2)
    sandbox.api(
        "POST",
        "/sync/ratings/remove",
        token=token,
        json={"movies": [{"ids": {"tmdb": m["ids"]["tmdb"]}} for m in movies[:25]]},
    )
    with host_app.app_context():
        blocked = sync.sync_user_ratings(uid)
    assert blocked.status == "blocked" and "remove 25 of the 30" in blocked.message
    assert len(host_ratings(host_app, "alice")) == 30
    forced = host_app.test_cli_runner().invoke(args=["trakt", "sync", "--user", "alice", "--force"])
    assert forced.exit_code == 0, forced.output
    assert len(host_ratings(host_app, "alice")) == 5


def test_items_trakt_does_not_know_are_kept_with_the_reason_in_status(alice, host_app, sandbox):
    from harness.reference_host.db import db
    from harness.reference_host.models import MediaItem

    uid = user_id(host_app, "alice")
    with host_app.app_context():
        unknown = MediaItem(
            kind="movie", title="A Home Movie", year=2025, tmdb=999_999_001, imdb="tt99999901"
        )
        db.session.add(unknown)
        db.session.commit()
        host_app.extensions["aperture_host"].apply_rating(uid, str(unknown.id), 10, T0, "aperture")
        result = jobs.push_user(uid)
        assert (result["pushed"], result["not_found"]) == (0, 1)
        again = jobs.push_user(uid)  # not retried until the user changes that rating
        assert again["status"] == "unchanged"
    status = host_app.test_cli_runner().invoke(args=["trakt", "status", "--user", "alice"])
    assert "not found on Trakt: movie 'A Home Movie'" in status.output
    assert "Trakt does not know this item's ids" in status.output

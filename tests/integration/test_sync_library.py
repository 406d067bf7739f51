"""A Trakt rating of a title the library lacks waits in the ledger, and reaches the host
when the title arrives (issue #5).

The title arrives the way an admin adds it, through the host's ``flask demo library add``
command, which fires ``aperture_library_changed``; the plugin answers by queueing its
``library_arrivals`` job, which a worker of the host's own class runs here in process.
If the user rated the title on this server before the job ran, the two ratings meet in
the next sync like any other conflict: the newer one wins, on both sides.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.storage.models import TraktLedger
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import run_trakt_jobs, trakt_queue
from tests.sync_helpers import (
    RASHOMON,
    fresh_connection,
    host_ratings,
    item_id,
    plugin_rows,
    rate_on_host,
    rate_on_trakt,
    sandbox_now,
    trakt_ratings,
    values,
)

pytestmark = [pytest.mark.trakt]

USER, TRAKT_USER = "alice", "alice_trakt"


@pytest.fixture()
def waiting(host_app, sandbox):
    """Alice rated Rashomon 8 on Trakt; a sync kept it for a library that lacks it."""
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    sandbox.advance_clock(2)
    rated_at = sandbox_now(sandbox)
    rate_on_trakt(sandbox, token, RASHOMON, 8, rated_at)
    sandbox.advance_clock(2)
    with host_app.app_context():
        result = sync.sync_user_ratings(uid)
        orphans = (
            host_app.extensions["aperture_host"]
            .db.session.scalars(select(TraktLedger).where(TraktLedger.user_id == uid))
            .all()
        )
        kept = [(row.item_id, row.tmdb, row.value, row.rated_at) for row in orphans]
    assert (result.status, result.waiting_for_library, result.pulled) == ("synced", 1, 0)
    assert kept == [(None, RASHOMON, 8, rated_at)]
    assert host_ratings(host_app, USER) == {}
    trakt_queue(host_app).empty()
    return uid, token, rated_at


def add_to_library(host_app, tmdb: int) -> None:
    result = host_app.test_cli_runner().invoke(args=["demo", "library", "add", "--tmdb", str(tmdb)])
    assert result.exit_code == 0, result.output
    assert trakt_queue(host_app).job_ids == [jobs.LIBRARY_JOB]


def test_the_rating_reaches_the_host_when_the_title_arrives(waiting, host_app, sandbox):
    uid, _, rated_at = waiting
    add_to_library(host_app, RASHOMON)
    run_trakt_jobs(host_app)

    assert host_ratings(host_app, USER) == {RASHOMON: (8, rated_at, "trakt")}
    ledger, outbox = plugin_rows(host_app, USER)
    assert ledger == {f"h:{item_id(host_app, RASHOMON)}": 8} and outbox == 0
    with host_app.app_context():  # nothing echoes back, nothing is left to do
        again = sync.sync_user_ratings(uid)
    assert (again.status, again.api_calls) == ("unchanged", 1)
    assert values(trakt_ratings(sandbox, TRAKT_USER)) == {RASHOMON: 8}


@pytest.mark.parametrize("newer", ["host", "trakt"])
def test_a_title_the_host_rated_meanwhile_goes_to_the_newer_rating(
    waiting, host_app, sandbox, newer
):
    uid, token, _ = waiting
    add_to_library(host_app, RASHOMON)
    sandbox.advance_clock(10)
    host_at = sandbox_now(sandbox)
    rate_on_host(host_app, USER, RASHOMON, 5, host_at)
    expected = (5, host_at)
    if newer == "trakt":  # and then the user changed their mind on trakt.tv
        sandbox.advance_clock(10)
        expected = (9, sandbox_now(sandbox))
        rate_on_trakt(sandbox, token, RASHOMON, 9, expected[1])
    sandbox.advance_clock(2)
    trakt_queue(host_app).empty()  # the hook's push: the sync below covers it

    with host_app.app_context():
        assert jobs.library_arrivals() == {str(uid): 0}  # the host holds its own rating
        result = sync.sync_user_ratings(uid)
    # With Trakt untouched since its rating was kept, the host's newer rating is simply
    # pushed; a newer one on Trakt is read back and wins the conflict.
    assert result.conflicts == (
        []
        if newer == "host"
        else ["this server: movie Rashomon set to 9 (both changed; trakt's is newer)"]
    )

    host, trakt = host_ratings(host_app, USER), trakt_ratings(sandbox, TRAKT_USER)
    assert host[RASHOMON][:2] == trakt[RASHOMON] == expected
    assert host[RASHOMON][2] == ("aperture" if newer == "host" else "trakt")
    ledger, outbox = plugin_rows(host_app, USER)
    assert ledger == {f"h:{item_id(host_app, RASHOMON)}": expected[0]} and outbox == 0


def remove_from_library(host_app, tmdb: int) -> None:
    result = host_app.test_cli_runner().invoke(
        args=["demo", "library", "remove", "--tmdb", str(tmdb)]
    )
    assert result.exit_code == 0, result.output


def test_a_title_that_leaves_the_library_keeps_its_trakt_rating(waiting, host_app, sandbox):
    """An admin removing a file is not the user unrating it: the ledger lets the title go,
    Trakt keeps the rating, and the rating comes back with the title."""
    uid, _, rated_at = waiting
    add_to_library(host_app, RASHOMON)
    run_trakt_jobs(host_app)
    remove_from_library(host_app, RASHOMON)
    assert host_ratings(host_app, USER) == {}
    trakt_queue(host_app).empty()

    with host_app.app_context():
        result = sync.sync_user_ratings(uid, force=True)  # Trakt unchanged: not read
    assert result.status == "synced" and result.pushed_removals == 0
    assert result.plan == [
        "the ledger: movie Rashomon let go (it left the library; its Trakt rating stays)"
    ]
    assert trakt_ratings(sandbox, TRAKT_USER) == {RASHOMON: (8, rated_at)}
    assert plugin_rows(host_app, USER) == ({}, 0)

    with host_app.app_context():  # Trakt's movies are read again: the rating waits
        again = sync.sync_user_ratings(uid)
    assert (again.status, again.waiting_for_library, again.pulled) == ("synced", 1, 0)
    add_to_library(host_app, RASHOMON)  # back, under a new item id
    run_trakt_jobs(host_app)
    assert host_ratings(host_app, USER) == {RASHOMON: (8, rated_at, "trakt")}
    assert plugin_rows(host_app, USER)[0] == {f"h:{item_id(host_app, RASHOMON)}": 8}

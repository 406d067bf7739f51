"""Connecting a host user to another Trakt account starts that account's sync afresh
(issue #14); connecting the same account again keeps what was agreed.

The ledger and the marker belong to the account they were agreed with. Kept across a
switch, the marker made the new account's first sync say "nothing changed on Trakt", and
the ledger would read every title the new account lacks as removed there.
"""

from __future__ import annotations

import pytest

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.accounts import tokens
from tests.connect_helpers import connect_with_tokens
from tests.sync_helpers import (
    FIGHT_CLUB,
    INCEPTION,
    MATRIX,
    fresh_connection,
    host_ratings,
    let_write_spacing_pass,
    plugin_rows,
    rate_on_host,
    rate_on_trakt,
    sandbox_now,
    trakt_ratings,
    values,
)

pytestmark = [pytest.mark.trakt]

USER, OLD, NEW = "alice", "alice_trakt", "carol_trakt"


@pytest.fixture()
def alice(host_app, sandbox) -> int:
    """Alice in sync with alice_trakt on two titles, and carol_trakt rating another."""
    uid = fresh_connection(host_app, sandbox, USER, OLD)
    at = sandbox_now(sandbox)
    old = sandbox.issue_tokens(OLD)["access_token"]
    rate_on_trakt(sandbox, old, MATRIX, 9, at)
    sandbox.advance_clock(2)  # Trakt takes one write a second per user
    rate_on_trakt(sandbox, old, FIGHT_CLUB, 6, at)
    rate_on_trakt(sandbox, sandbox.issue_tokens(NEW)["access_token"], INCEPTION, 8, at)
    sandbox.advance_clock(5)
    with host_app.app_context():
        assert sync.sync_user_ratings(uid).pulled == 2
    return uid


def switch_account(host_app, sandbox, uid: int, needs_reconnect: bool) -> None:
    if needs_reconnect:
        with host_app.app_context():
            tokens.store().mark_needs_reauth(uid, "Trakt no longer accepts this authorization")
    sandbox.advance_clock(5)
    let_write_spacing_pass(host_app, uid)
    connect_with_tokens(host_app, sandbox, USER, NEW)


@pytest.mark.parametrize(
    "needs_reconnect", [True, False], ids=["after-needs-reconnecting", "while-connected"]
)
def test_another_account_gets_a_first_sync(alice, host_app, sandbox, needs_reconnect):
    switch_account(host_app, sandbox, alice, needs_reconnect)
    with host_app.app_context():
        first = sync.sync_user_ratings(alice)
    assert first.status == "synced", first
    # The new account's rating arrives; the host's ratings (from the old account) stay
    # and are offered to the new one, which lacked them: nothing is removed anywhere.
    expected = {MATRIX: 9, FIGHT_CLUB: 6, INCEPTION: 8}
    assert values(host_ratings(host_app, USER)) == expected
    assert values(trakt_ratings(sandbox, NEW)) == expected
    assert (first.pulled, first.pushed, first.pulled_removals) == (1, 2, 0), first
    assert values(trakt_ratings(sandbox, OLD)) == {MATRIX: 9, FIGHT_CLUB: 6}
    ledger, outbox = plugin_rows(host_app, USER)
    assert sorted(ledger.values()) == [6, 8, 9] and outbox == 0


def test_the_same_account_again_keeps_the_agreement(alice, host_app, sandbox):
    with host_app.app_context():
        tokens.store().mark_needs_reauth(alice, "Trakt no longer accepts this authorization")
    connect_with_tokens(host_app, sandbox, USER, OLD)
    ledger_before, _ = plugin_rows(host_app, USER)
    with host_app.app_context():
        again = sync.sync_user_ratings(alice)
    assert again.status == "unchanged" and again.api_calls == 1, again
    assert plugin_rows(host_app, USER)[0] == ledger_before


def test_a_change_waiting_for_the_old_account_goes_to_the_new_one(alice, host_app, sandbox):
    """A rating Trakt did not take for the old account is offered to the new one."""
    sandbox.fault(
        "POST",
        "/sync/ratings",
        status=201,
        body={
            "added": {"movies": 0, "shows": 0, "seasons": 0, "episodes": 0},
            "not_found": {"movies": [{}]},
        },
    )
    let_write_spacing_pass(host_app, alice)
    rate_on_host(host_app, USER, INCEPTION, 4, sandbox_now(sandbox))
    from aperture_trakt_plugin.usecases import jobs

    with host_app.app_context():
        assert jobs.push_user(alice)["not_found"] == 1
    switch_account(host_app, sandbox, alice, needs_reconnect=False)
    with host_app.app_context():
        first = sync.sync_user_ratings(alice)
    # Both changed since an agreement that no longer exists: the newest wins (the host's
    # 4 is newer than carol_trakt's 8).
    assert first.status == "synced", first
    assert trakt_ratings(sandbox, NEW)[INCEPTION][0] == 4
    assert values(host_ratings(host_app, USER))[INCEPTION] == 4

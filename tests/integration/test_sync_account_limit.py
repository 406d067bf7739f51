"""A push that hits the account's ratings cap (420) keeps what did not fit (issue #14).

Since 2026 a Trakt account holds at most 10,000 ratings (free) or 20,000 (VIP), and a
write past the cap is answered 420, possibly with an empty body, possibly after taking
part of the batch (CONTRACT 10). The sandbox plays both with small caps. What Trakt took
counts as pushed; the rest stays in the host and the outbox, said in plain words with the
cap; the run goes on; and the next runs do not send the same batch into the same wall.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.storage.models import TraktOutbox
from aperture_trakt_plugin.sync import trakt_side
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import page, text_of
from tests.fixtures_host import login_as
from tests.sync_helpers import (
    LIBRARY_MOVIES,
    RASHOMON,
    fresh_connection,
    host_ratings,
    let_write_spacing_pass,
    rate_on_host,
    rate_on_trakt,
    sandbox_now,
    services,
    trakt_ratings,
    unrate_on_trakt,
    values,
)

pytestmark = [pytest.mark.trakt]

USER, TRAKT_USER = "alice", "alice_trakt"
CAP = 2


@pytest.fixture()
def alice(host_app, sandbox) -> int:
    return fresh_connection(host_app, sandbox, USER, TRAKT_USER)


def cap_ratings(sandbox, vip: bool, mode: str, body: str) -> None:
    sandbox.update_user(TRAKT_USER, vip=vip)
    caps = {"free": CAP, "vip": CAP} if not vip else {"free": 0, "vip": CAP}
    sandbox.set_account_limits(ratings=caps, mode=mode, body=body)


def rate_four_on_host(host_app, sandbox) -> None:
    at = sandbox_now(sandbox)
    for n, tmdb in enumerate(LIBRARY_MOVIES):
        rate_on_host(host_app, USER, tmdb, 5 + n, at + timedelta(seconds=n))


def outbox_states(host_app, uid: int) -> list[str]:
    with host_app.app_context():
        rows = services(host_app).db.session.query(TraktOutbox).filter_by(user_id=uid)
        return sorted(row.state for row in rows)


def posts(sandbox) -> int:
    return len(
        [r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == "/sync/ratings"]
    )


@pytest.mark.parametrize("vip", [False, True], ids=["free", "vip"])
@pytest.mark.parametrize("body", ["empty", "json"])
@pytest.mark.parametrize("mode", ["partial", "reject"])
def test_what_did_not_fit_stays_and_waits_for_room(alice, host_app, sandbox, vip, body, mode):
    cap_ratings(sandbox, vip, mode, body)
    rate_four_on_host(host_app, sandbox)
    with host_app.app_context():
        result = sync.push_user(alice)
    took = CAP if mode == "partial" else 0
    assert (result.pushed, result.over_limit, result.not_found) == (took, 4 - took, 0), result
    limit = 20_000 if vip else 10_000
    assert result.ratings_limit == limit
    assert f"{4 - took} wait for room on Trakt (its {limit:,}-rating limit)" in result.summary()
    assert len(trakt_ratings(sandbox, TRAKT_USER)) == took
    assert len(host_ratings(host_app, USER)) == 4  # nothing lost here
    assert outbox_states(host_app, alice) == [sync.OVER_LIMIT] * (4 - took)

    status = host_app.test_cli_runner().invoke(args=["trakt", "status", "--user", USER])
    tier = "VIP" if vip else "free"
    assert status.output.count("waiting for room on Trakt") == 4 - took, status.output
    assert f"a {tier} Trakt account holds at most {limit:,} ratings" in status.output

    # The next runs neither fail nor send the same batch into the same wall.
    sandbox.clear_requests()
    for _ in range(2):
        sandbox.advance_clock(5)
        let_write_spacing_pass(host_app, alice)
        with host_app.app_context():
            again = sync.sync_user_ratings(alice)
        assert again.status == "unchanged", again
    assert posts(sandbox) == 0


def test_the_rest_of_the_sync_goes_on_and_room_lets_them_through(alice, host_app, sandbox):
    cap_ratings(sandbox, vip=False, mode="partial", body="empty")
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    rate_on_trakt(sandbox, token, RASHOMON, 9, sandbox_now(sandbox))  # one of the two slots
    sandbox.advance_clock(5)
    rate_four_on_host(host_app, sandbox)
    let_write_spacing_pass(host_app, alice)
    with host_app.app_context():
        result = sync.sync_user_ratings(alice)
    assert result.status == "synced", result
    assert (result.pushed, result.over_limit, result.waiting_for_library) == (1, 3, 1), result

    # The user makes room on Trakt: Trakt's ratings changed, so they go out again.
    sandbox.set_account_limits(ratings={"free": 10, "vip": 10})
    sandbox.advance_clock(5)
    unrate_on_trakt(sandbox, token, RASHOMON)
    sandbox.advance_clock(5)
    let_write_spacing_pass(host_app, alice)
    with host_app.app_context():
        freed = sync.sync_user_ratings(alice)
    assert (freed.pushed, freed.over_limit) == (3, 0), freed
    assert values(trakt_ratings(sandbox, TRAKT_USER)) == values(host_ratings(host_app, USER))
    assert outbox_states(host_app, alice) == []


def test_a_day_later_they_are_tried_again(alice, host_app, sandbox):
    cap_ratings(sandbox, vip=False, mode="reject", body="empty")
    rate_four_on_host(host_app, sandbox)
    with host_app.app_context():
        assert sync.push_user(alice).over_limit == 4
    sandbox.set_account_limits(ratings={"free": 10, "vip": 10})  # room, unseen by the marker
    with host_app.app_context():  # the hold a refusal sets runs out (a day)
        services(host_app).redis.delete(trakt_side.LIMIT_HOLD_KEY.format(user_id=alice))
    sandbox.advance_clock(5)
    let_write_spacing_pass(host_app, alice)
    with host_app.app_context():
        retried = sync.sync_user_ratings(alice)
    assert (retried.pushed, retried.over_limit) == (4, 0), retried
    with host_app.app_context():
        assert jobs.push_user(alice)["status"] == "unchanged"


def test_the_profile_card_says_so_with_the_limit(alice, host_app, sandbox):
    cap_ratings(sandbox, vip=False, mode="reject", body="empty")
    rate_four_on_host(host_app, sandbox)
    with host_app.app_context():
        sync.push_user(alice)
    client = host_app.test_client()
    login_as(client, USER)
    html = page(client)
    headline = text_of(html, "trakt-sync-headline")
    assert headline == (
        "4 ratings made here wait for room on Trakt: a free Trakt account "
        "holds at most 10,000 ratings; remove some on Trakt or upgrade to "
        "VIP and it goes with the next sync."
    ), headline
    listed = text_of(html, "trakt-status-over-limit")
    assert listed is not None and listed.count("rated") == 4, html

"""Issue 15: malformed profile, list and ratings answers, and where their message lands.

``test_hostile_trakt`` proves each malformed answer becomes a ``TraktError``; this module
follows the message to the person who can act on it, through the pages they use:

* a broken ``/users/settings`` while connecting: the popup's result page and the profile
  card (web flow), the poll's answer and the card (device flow); nothing is stored;
* a broken list (watchlist, trending, recommendations): the discovery run's log and the
  watchlist card; the titles read before stay;
* a broken ratings answer in a scheduled run: the run's log on the jobs screen, the
  status view's "last error" and the profile card's headline; no rating is lost.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit, urlunsplit

import pytest

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.discovery import refresh
from aperture_trakt_plugin.storage.models import TraktConnection
from aperture_trakt_plugin.sync import trakt_side
from aperture_trakt_plugin.usecases import connections, jobs
from aperture_trakt_plugin.web.texts import MSG_WATCHLIST_FAILED
from harness.hostile_trakt import deep_json, huge_number, json_answer
from harness.reference_host.jobs import new_run
from harness.reference_host.models import JobRun
from tests.connect_helpers import (
    DEVICE_POLL,
    authorize_at_sandbox,
    card_state,
    configure_trakt,
    connection,
    finish_web_connect,
    let_poll_interval_pass,
    page,
    post_json,
    start_device,
    start_web_connect,
    text_of,
    user_id,
)
from tests.fixtures_host import login_as
from tests.fixtures_hostile import hostile_host_config
from tests.sync_helpers import (
    INCEPTION,
    MATRIX,
    fresh_connection,
    host_ratings,
    rate_on_trakt,
    sandbox_now,
    values,
)

USER, TRAKT_USER = "alice", "alice_trakt"
#: The two ways an unreadable answer is told (a token call's, an API read's).
UNREADABLE = ("Trakt's answer could not be read", "Trakt's answer was not readable JSON")
STATUS = "/plugins/trakt/admin/status"


@pytest.fixture()
def host_config(hostile_server, sandbox_server):
    return hostile_host_config(hostile_server, sandbox_server)


def said(expected: str | tuple[str, ...], text: str | None) -> bool:
    options = (expected,) if isinstance(expected, str) else expected
    return any(option in (text or "") for option in options)


def client_as(host_app, name: str):
    client = host_app.test_client()
    login_as(client, name)
    return client


# --- /users/settings while connecting ---------------------------------------------------------

PROFILE_ANSWERS = {
    "a list": ("[]", connections.MSG_NO_USERNAME),
    "user is text": (json.dumps({"user": "alice_trakt"}), connections.MSG_NO_USERNAME),
    "username a number": (json.dumps({"user": {"username": 5}}), connections.MSG_NO_USERNAME),
    "username blank": (json.dumps({"user": {"username": "  "}}), connections.MSG_NO_USERNAME),
    "username too long": (
        json.dumps({"user": {"username": "a" * 300}}),
        connections.MSG_NO_USERNAME,
    ),
    "ids a list": (
        json.dumps({"user": {"username": "alice_trakt", "ids": ["x"]}}),
        connections.MSG_BAD_PROFILE,
    ),
    "slug a dict": (
        json.dumps({"user": {"username": "alice_trakt", "ids": {"slug": {}}}}),
        connections.MSG_BAD_PROFILE,
    ),
    "deep json": (deep_json(), UNREADABLE),
    "huge number": ('{"user": ' + huge_number() + "}", UNREADABLE),
}


def through_sandbox(authorize_url: str, sandbox_url: str) -> str:
    """The consent page is the sandbox's own: the hostile server only stands on the
    plugin's side of the wire (token and API calls)."""
    target = urlsplit(sandbox_url)
    return urlunsplit(urlsplit(authorize_url)._replace(scheme=target.scheme, netloc=target.netloc))


@pytest.mark.parametrize("answer", sorted(PROFILE_ANSWERS))
def test_a_malformed_profile_ends_the_web_connect_with_a_message(
    host_app, sandbox, sandbox_server, hostile, answer
):
    raw, expected = PROFILE_ANSWERS[answer]
    configure_trakt(host_app, sandbox)
    hostile.arm("/users/settings", json_answer(raw=raw))
    client = client_as(host_app, USER)
    query = authorize_at_sandbox(
        through_sandbox(start_web_connect(client), sandbox_server.url), TRAKT_USER
    )
    result = finish_web_connect(client, query)
    assert 'data-ok="no"' in result, result[:500]
    assert said(expected, result), result
    assert connection(host_app, USER) is None
    html = page(client)
    assert card_state(html) == "disconnected"
    assert said(expected, text_of(html, "trakt-profile-notice"))


@pytest.mark.parametrize("answer", ["ids a list", "username a number", "deep json"])
def test_a_malformed_profile_ends_the_device_connect_with_a_message(
    host_app, sandbox, hostile, answer
):
    raw, expected = PROFILE_ANSWERS[answer]
    configure_trakt(host_app, sandbox)
    client = client_as(host_app, USER)
    started = start_device(client)
    sandbox.approve_device(started["user_code"], TRAKT_USER)
    hostile.arm("/users/settings", json_answer(raw=raw))
    let_poll_interval_pass(host_app, sandbox, USER)
    status, body = post_json(client, DEVICE_POLL)
    assert status == 502 and said(expected, body["message"]), body
    assert connection(host_app, USER) is None
    assert said(expected, text_of(page(client), "trakt-profile-notice"))


def test_a_slugless_profile_still_connects(host_app, sandbox, hostile):
    """Trakt documents ``ids.slug``, but an answer without it names the account well
    enough: usernames are compared instead (``same_account``)."""
    configure_trakt(host_app, sandbox)
    hostile.arm("/users/settings", json_answer({"user": {"username": TRAKT_USER}}))
    client = client_as(host_app, USER)
    started = start_device(client)
    sandbox.approve_device(started["user_code"], TRAKT_USER)
    let_poll_interval_pass(host_app, sandbox, USER)
    status, body = post_json(client, DEVICE_POLL)
    assert status == 200 and body["status"] == "connected", body
    conn = connection(host_app, USER)
    assert conn is not None and (conn.trakt_username, conn.trakt_slug) == (TRAKT_USER, None)


@pytest.mark.parametrize("settings", ['{"user": {"vip": "yes"}}', deep_json(), "[]"])
def test_a_malformed_profile_reads_as_a_free_account_for_the_ratings_cap(
    host_app, sandbox, hostile, settings
):
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    hostile.arm("/users/settings", json_answer(raw=settings))
    with host_app.app_context():
        side = sync.TraktSide(uid, sync.SyncResult(uid))
        assert side.ratings_limit() == (trakt_side.RATINGS_LIMITS[False], False)


# --- lists: discovery -----------------------------------------------------------------------

LIST_ANSWERS = {
    "an object": json.dumps({"movies": []}),
    "deep json": deep_json(),
    "huge number": "[" + huge_number() + "]",
}


def watchlist_card(client) -> str:
    return text_of(page(client), "trakt-watchlist-error") or ""


@pytest.mark.parametrize("answer", sorted(LIST_ANSWERS))
def test_a_malformed_watchlist_is_logged_shown_and_loses_the_titles_read_before(
    host_app, sandbox, hostile, answer
):
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    held = next(m for m in sandbox.catalogue()["movies"] if m["in_library"])
    sandbox.set_watchlist(TRAKT_USER, [{"type": "movie", "movie": {"ids": held["ids"]}}])
    with host_app.app_context():
        assert not refresh.refresh([uid], global_lists=False).errors
    hostile.arm("/sync/watchlist/movies", json_answer(raw=LIST_ANSWERS[answer]))
    with host_app.app_context():
        run = new_run(refresh.JOB_NAME, status="running")
        refresh.run_refresh(run.id)
        log = host_app.extensions["aperture_host"].db.session.get(JobRun, run.id).log
    admin = client_as(host_app, "admin")
    shown = admin.get(f"/admin/jobs/runs/{run.id}").get_data(as_text=True)
    line = next(line for line in log.splitlines() if "watchlist" in line and "GET" in line)
    assert "GET /sync/watchlist/movies" in line, log
    message = line.split("] ", 1)[1]
    assert message in re.sub(r"\s+", " ", shown.replace("&#39;", "'"))
    client = client_as(host_app, USER)
    assert watchlist_card(client) == MSG_WATCHLIST_FAILED.format(error=message.split(": ", 1)[1])
    assert held["title"] in page(client)  # the watchlist read before is still shown


def test_malformed_items_in_a_list_are_skipped_and_the_good_ones_kept(host_app, sandbox, hostile):
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    good = sandbox.catalogue()["movies"][0]
    items = [
        7,
        None,
        "text",
        {"movie": "x"},
        {"movie": {"title": 5, "ids": good["ids"]}},
        {"movie": {"title": "No ids", "ids": {"tmdb": "x", "imdb": 12}}},
        {"movie": {"title": good["title"], "year": "soon", "ids": good["ids"]}},
    ]
    hostile.arm("/movies/trending", json_answer(items))
    with host_app.app_context():
        result = refresh.refresh([uid])
        assert not result.errors, result.errors
        from aperture_trakt_plugin.discovery import cache

        entries = cache.entries(cache.global_scope("trending", "movies"))
    assert [(e.title, e.year, e.ids.tmdb) for e in entries] == [
        (good["title"], None, good["ids"]["tmdb"])
    ]


# --- ratings in a scheduled run --------------------------------------------------------------


def test_malformed_ratings_reach_the_run_log_the_status_view_and_the_card(
    host_app, sandbox, hostile
):
    uid = fresh_connection(host_app, sandbox, USER, TRAKT_USER)
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    rate_on_trakt(sandbox, token, INCEPTION, 7, sandbox_now(sandbox))
    with host_app.app_context():
        assert sync.sync_user_ratings(uid).status == "synced"
    sandbox.advance_clock(2)
    rate_on_trakt(sandbox, token, MATRIX, 9, sandbox_now(sandbox))
    hostile.arm("/sync/ratings/movies", json_answer(raw=deep_json()))
    with host_app.app_context():
        run = new_run(jobs.SYNC_ALL, status="running")
        assert jobs.sync_user(uid, run.id)["status"] == "failed"
        log = host_app.extensions["aperture_host"].db.session.get(JobRun, run.id).log
        error = host_app.extensions["aperture_host"].db.session.get(TraktConnection, uid).last_error
    assert error is not None and error.startswith("GET /sync/ratings/movies: Trakt's answer")
    assert error in log
    admin = client_as(host_app, "admin")
    assert error in admin.get(f"/admin/jobs/runs/{run.id}").get_data(as_text=True).replace(
        "&#39;", "'"
    )
    assert error in (text_of(page(admin, f"{STATUS}/{uid}"), "trakt-status-last-error") or "")
    assert error in (text_of(page(client_as(host_app, USER)), "trakt-sync-headline") or "")
    assert values(host_ratings(host_app, USER)) == {INCEPTION: 7}
    hostile.disarm()
    with host_app.app_context():
        assert sync.sync_user_ratings(uid).status == "synced"
    assert values(host_ratings(host_app, USER)) == {INCEPTION: 7, MATRIX: 9}
    assert user_id(host_app, USER) == uid

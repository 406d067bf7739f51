"""Issue 15, the transport side: the plugin against a Trakt that misbehaves on purpose.

The plugin's API and auth URLs point at ``harness.hostile_trakt.HostileTrakt``, which passes
everything to the sandbox except what a test arms. Each case ends within a bounded time,
with a clear message, and nothing is sent to any host but the configured one: a second
listener (``RecordingListener``) stands for "another host" and must receive nothing.
"""

from __future__ import annotations

import json
import time

import pytest

from aperture_trakt_plugin import extension, sync
from aperture_trakt_plugin.accounts import oauth, tokens
from aperture_trakt_plugin.queueing import retries
from aperture_trakt_plugin.trakt import device_flow
from aperture_trakt_plugin.trakt.errors import (
    MSG_REDIRECTED,
    AnswerTooLarge,
    AnswerTooSlow,
    MalformedResponse,
    RateLimited,
    Redirected,
    TraktError,
)
from aperture_trakt_plugin.trakt.rate_limits import USER_GET, anonymous
from harness.hostile_trakt import (
    RecordingListener,
    deep_json,
    dropped,
    endless_body,
    forwarded_as,
    forwarded_with,
    huge_number,
    json_answer,
    rate_limited,
    redirect,
    status,
    trickle,
)
from tests.connect_helpers import (
    CLIENT_SECRET,
    configure_trakt,
    connect_with_tokens,
)
from tests.fixtures_hostile import hostile_host_config
from tests.sync_helpers import (
    INCEPTION,
    MATRIX,
    host_ratings,
    rate_on_trakt,
    sandbox_now,
    values,
)

USER, TRAKT_USER = "alice", "alice_trakt"


@pytest.fixture()
def host_config(hostile_server, sandbox_server):
    return hostile_host_config(hostile_server, sandbox_server)


@pytest.fixture()
def alice(host_app, sandbox, hostile):
    """Alice connected (tokens issued by the sandbox directly), her pair at hand."""
    configure_trakt(host_app, sandbox)
    return connect_with_tokens(host_app, sandbox, USER, TRAKT_USER)


def assert_nothing_reached(listener: RecordingListener, *secrets: str) -> None:
    leaked = [seen.text() for seen in listener.requests]
    assert leaked == [], f"another host received {len(leaked)} request(s)"
    for seen in leaked:  # pragma: no cover - belt and braces if the above changes
        for secret in secrets:
            assert secret not in seen


# --- no redirect is followed ----------------------------------------------------------------


REDIRECT_CALLS = {
    "token exchange": (
        "/oauth/token",
        lambda conn: oauth.exchange_code("the-code", "the-pkce-verifier"),
    ),
    "refresh": ("/oauth/token", lambda conn: oauth.refresh(conn.refresh_token)),
    "revoke": ("/oauth/revoke", lambda conn: oauth.revoke(conn.access_token)),
    "device poll": ("/oauth/device/token", lambda conn: oauth.poll_device_token("dev-code")),
    "device start": ("/oauth/device/code", lambda conn: oauth.start_device_flow()),
    "api call": (
        "/users/settings",
        lambda conn: oauth.api_client().api(
            "GET", "/users/settings", token=conn.access_token, what="Reading your Trakt profile"
        ),
    ),
}


@pytest.mark.parametrize("status", [307, 302, 308])
@pytest.mark.parametrize("call", sorted(REDIRECT_CALLS))
def test_no_call_to_trakt_follows_a_redirect(host_app, alice, hostile, listener, call, status):
    path, make_call = REDIRECT_CALLS[call]
    hostile.arm(path, redirect(listener.url, status))
    with host_app.app_context():
        conn = extension.state().host.db.session.merge(alice)
        with pytest.raises(Redirected) as raised:
            make_call(conn)
    assert raised.value.status == status
    assert str(raised.value).startswith(MSG_REDIRECTED.split("{what}")[0])
    assert f"redirect ({status})" in str(raised.value)
    assert_nothing_reached(
        listener,
        CLIENT_SECRET,
        alice.refresh_token,
        alice.access_token,
        "the-code",
        "the-pkce-verifier",
        "dev-code",
    )
    assert any(seen.path == path for seen in hostile.requests)


def test_a_plain_session_from_the_extension_refuses_redirects_too(host_app, hostile, listener):
    """Any future caller that takes its session from ``http_session`` is covered."""
    hostile.arm("/anything", redirect(listener.url))
    with host_app.app_context(), pytest.raises(Redirected):
        extension.http_session().post(
            hostile.url + "/anything", json={"s": CLIENT_SECRET}, timeout=5
        )
    assert_nothing_reached(listener, CLIENT_SECRET)


# --- waits are bounded ------------------------------------------------------------------------

HOUR = 3600


def read_settings(conn):
    return oauth.api_client().api(
        "GET", "/users/settings", token=conn.access_token, what="Reading your Trakt profile"
    )


def closed_for(conn) -> float:
    """How long the user's GET bucket (or the whole server) is closed."""
    return extension.budgets().closed_for(USER_GET, anonymous(conn.access_token))


@pytest.mark.parametrize(
    "retry_after",
    ["999999999", "inf", "-inf", "nan", "Infinity", "1e309", "0", "-5", "0.0001", "soon"],
)
def test_retry_after_is_a_finite_wait_within_the_range(host_app, alice, hostile, retry_after):
    hostile.arm("/users/settings", rate_limited(retry_after=retry_after))
    with host_app.app_context():
        conn = extension.state().host.db.session.merge(alice)
        with pytest.raises(RateLimited) as raised:
            read_settings(conn)
        wait = raised.value.retry_after
        assert wait is None or 1 <= wait <= HOUR
        assert 0.5 < closed_for(conn) <= HOUR  # a second at least, as it was set
        delay = retries.delay_for(raised.value, attempt=0)
        assert delay is not None and 1 <= delay <= HOUR + 31


@pytest.mark.parametrize("until", ["9999-12-31T23:59:59Z", "+999999-01-01T00:00:00"])
def test_x_ratelimit_until_far_away_closes_the_bucket_an_hour_at_most(
    host_app, alice, hostile, until
):
    spent = {
        "name": "AUTHED_API_GET_LIMIT",
        "period": 300,
        "limit": 500,
        "remaining": 0,
        "until": until,
    }
    hostile.arm("/users/settings", json_answer({}, headers={"X-Ratelimit": json.dumps(spent)}))
    with host_app.app_context():
        conn = extension.state().host.db.session.merge(alice)
        read_settings(conn)
        assert closed_for(conn) <= HOUR


def test_a_short_wait_is_clamped_up_to_the_configured_floor(host_app, alice, hostile):
    host_app.config["APERTURE_TRAKT_WAIT_RANGE"] = [30, 120]
    hostile.arm("/users/settings", rate_limited(retry_after="0"))
    with host_app.app_context():
        conn = extension.state().host.db.session.merge(alice)
        with pytest.raises(RateLimited) as raised:
            read_settings(conn)
    assert raised.value.retry_after == 30


def test_retries_after_429_are_counted_and_capped(host_app):
    error = RateLimited("GET /x: Trakt's rate limit was reached (retry later)", 5.0, None)
    with host_app.app_context():
        cap = host_app.config["APERTURE_TRAKT_RATE_LIMIT_RETRIES"]
        assert retries.delay_for(error, attempt=0, rate_attempt=cap - 1) is not None
        assert retries.delay_for(error, attempt=0, rate_attempt=cap) is None


def test_a_wait_range_that_is_not_two_finite_numbers_stops_the_start(host_app):
    for bad in (["inf", 10], [10, 1], [5], "x", [-1, 5]):
        host_app.config["APERTURE_TRAKT_WAIT_RANGE"] = bad
        with pytest.raises(ValueError, match="APERTURE_TRAKT_WAIT_RANGE"):
            extension.wait_range(host_app)


# --- answers are bounded ---------------------------------------------------------------------


BOUNDED_CALLS = {
    "api call": ("/users/settings", read_settings),
    "refresh": ("/oauth/token", lambda conn: oauth.refresh(conn.refresh_token)),
    "device poll": ("/oauth/device/token", lambda conn: oauth.poll_device_token("dev-code")),
    "revoke": ("/oauth/revoke", lambda conn: oauth.revoke(conn.access_token)),
}


@pytest.mark.parametrize("call", sorted(BOUNDED_CALLS))
def test_an_endless_body_is_cut_at_the_size_cap(host_app, alice, hostile, call):
    host_app.config["APERTURE_TRAKT_MAX_ANSWER_BYTES"] = 1024 * 1024
    path, make_call = BOUNDED_CALLS[call]
    hostile.arm(path, endless_body())
    started = time.monotonic()
    with host_app.app_context():
        conn = extension.state().host.db.session.merge(alice)
        with pytest.raises(AnswerTooLarge) as raised:
            make_call(conn)
    assert time.monotonic() - started < 10
    assert "larger than 1048576 bytes" in str(raised.value)


@pytest.mark.parametrize("call", sorted(BOUNDED_CALLS))
def test_a_trickling_body_ends_at_the_deadline(host_app, alice, hostile, call):
    """Each byte comes well within the 10 s per-read timeout; the whole would take 60 s."""
    host_app.config["APERTURE_TRAKT_ANSWER_DEADLINE"] = 1.0
    host_app.config["APERTURE_TRAKT_HTTP_TIMEOUT"] = 2.0
    path, make_call = BOUNDED_CALLS[call]
    hostile.arm(path, trickle(every=0.2, total=60))
    started = time.monotonic()
    with host_app.app_context():
        conn = extension.state().host.db.session.merge(alice)
        with pytest.raises(AnswerTooSlow) as raised:
            make_call(conn)
    assert time.monotonic() - started < 5
    assert "longer than 2 s" in str(raised.value)


def test_the_refresh_lock_outlives_the_slowest_refresh(host_app):
    host_app.config["APERTURE_TRAKT_ANSWER_DEADLINE"] = 300.0
    with host_app.app_context():
        slowest = host_app.config["APERTURE_TRAKT_HTTP_TIMEOUT"] + 300.0
        assert tokens.lock_seconds() > slowest


# --- a passing fault is retried briefly before it is rescheduled -----------------------------


@pytest.mark.parametrize("fault", ["502", "503", "520", "dropped"])
def test_two_passing_faults_in_a_row_do_not_fail_a_foreground_sync(host_app, alice, hostile, fault):
    pattern = dropped() if fault == "dropped" else status(int(fault), "<html>Bad gate</html>")
    armed = hostile.arm("/sync/last_activities", pattern, times=2)
    result = host_app.test_cli_runner().invoke(args=["trakt", "sync", "--user", USER])
    assert result.exit_code == 0, result.output
    assert f"{USER}: " in result.output and "failed" not in result.output
    assert armed.hits == 2


def test_a_fault_outlasting_the_quick_retries_goes_to_the_caller(host_app, alice, hostile):
    armed = hostile.arm("/sync/last_activities", status(502), times=3)
    result = host_app.test_cli_runner().invoke(args=["trakt", "sync", "--user", USER])
    assert result.exit_code == 1
    assert "Trakt is having trouble (502)" in result.output
    assert armed.hits == 3


def test_writes_are_not_retried_in_the_run(host_app, alice, hostile):
    """A write whose answer was lost may have landed: the sync's unconfirmed-write
    handling sorts it out next run, so it is sent once here."""
    armed = hostile.arm("/sync/ratings", status(502), method="POST")
    with host_app.app_context(), pytest.raises(Exception, match=r"\(502\)"):
        oauth.api_client().api(
            "POST", "/sync/ratings", token=alice.access_token, body={"movies": []}
        )
    assert armed.hits == 1


def test_the_quick_retries_default_to_seconds(host_app):
    assert extension.CONFIG_DEFAULTS["APERTURE_TRAKT_QUICK_RETRIES"] == [1, 3]


# --- pagination headers are checked in the rating sync's reader -----------------------------

BAD_PAGING = {
    "zero pages": {"X-Pagination-Page-Count": "0"},
    "a million pages": {
        "X-Pagination-Page": "1",
        "X-Pagination-Limit": "10",
        "X-Pagination-Page-Count": "1000000",
    },
    "negative": {"X-Pagination-Page-Count": "-1"},
    "not a number": {"X-Pagination-Page-Count": "many"},
    "huge number": {"X-Pagination-Page-Count": "9" * 5000},
    "item count disagrees": {
        "X-Pagination-Page": "1",
        "X-Pagination-Limit": "10",
        "X-Pagination-Page-Count": "1",
        "X-Pagination-Item-Count": "5000",
    },
    "not page 1": {
        "X-Pagination-Page": "3",
        "X-Pagination-Limit": "10",
        "X-Pagination-Page-Count": "3",
    },
}


@pytest.mark.parametrize("case", sorted(BAD_PAGING))
def test_bad_paging_headers_fail_the_pull_and_remove_nothing(
    host_app, alice, hostile, sandbox, case
):
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    rate_on_trakt(sandbox, token, INCEPTION, 7, sandbox_now(sandbox))
    with host_app.app_context():
        assert sync.sync_user_ratings(alice.user_id).status == "synced"
    assert values(host_ratings(host_app, USER)) == {INCEPTION: 7}
    sandbox.advance_clock(2)
    rate_on_trakt(sandbox, token, MATRIX, 9, sandbox_now(sandbox))  # the marker moves
    hostile.arm("/sync/ratings/movies", forwarded_with(hostile, BAD_PAGING[case]))
    hostile.requests.clear()
    with host_app.app_context(), pytest.raises(MalformedResponse) as raised:
        sync.sync_user_ratings(alice.user_id)
    assert "GET /sync/ratings/movies: Trakt" in str(raised.value)
    assert values(host_ratings(host_app, USER)) == {INCEPTION: 7}  # nothing removed
    reads = [seen for seen in hostile.requests if seen.path == "/sync/ratings/movies"]
    assert len(reads) == 1 and reads[0].query == ""  # page 1, unparameterised, and no more


def test_ratings_trakt_pages_anyway_are_read_page_by_page(host_app, alice, hostile, sandbox):
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    for tmdb, value in ((INCEPTION, 7), (MATRIX, 9)):
        rate_on_trakt(sandbox, token, tmdb, value, sandbox_now(sandbox))
        sandbox.advance_clock(2)
    hostile.arm("/sync/ratings/movies", forwarded_as(hostile, "page=1&limit=1"), times=1)
    with host_app.app_context():
        assert sync.sync_user_ratings(alice.user_id).status == "synced"
    assert values(host_ratings(host_app, USER)) == {INCEPTION: 7, MATRIX: 9}
    reads = [seen.query for seen in hostile.requests if seen.path == "/sync/ratings/movies"]
    assert reads == ["", "page=2&limit=1"]


# --- malformed answers: a clear TraktError, never a crash ------------------------------------

DEEP = deep_json()
GOOD_TOKEN = {
    "access_token": "a" * 64,
    "refresh_token": "r" * 64,
    "token_type": "bearer",
    "expires_in": 86400,
    "created_at": 1_700_000_000,
    "scope": "public",
}
BAD_TOKEN_ANSWERS = {
    "deep json": DEEP,
    "huge number": '{"access_token": ' + huge_number() + "}",
    "a list": "[1, 2]",
    "access token a dict": json.dumps({**GOOD_TOKEN, "access_token": {"x": 1}}),
    "refresh token a number": json.dumps({**GOOD_TOKEN, "refresh_token": 12}),
    "expires in years": json.dumps({**GOOD_TOKEN, "expires_in": 10**300}),
    "expires in a float": json.dumps({**GOOD_TOKEN, "expires_in": 1e308}),
    "created in year 10^12": json.dumps({**GOOD_TOKEN, "created_at": 10**20}),
    "expires in a bool": json.dumps({**GOOD_TOKEN, "expires_in": True}),
    "scope a list": json.dumps({**GOOD_TOKEN, "scope": ["public"]}),
}
TOKEN_CALLS = {
    "token exchange": ("/oauth/token", lambda conn: oauth.exchange_code("code", "verifier")),
    "refresh": ("/oauth/token", lambda conn: oauth.refresh(conn.refresh_token)),
    "device poll": ("/oauth/device/token", lambda conn: oauth.poll_device_token("dev")),
}


@pytest.mark.parametrize("answer", sorted(BAD_TOKEN_ANSWERS))
@pytest.mark.parametrize("call", sorted(TOKEN_CALLS))
def test_a_malformed_token_answer_is_a_clear_error(host_app, alice, hostile, call, answer):
    path, make_call = TOKEN_CALLS[call]
    hostile.arm(path, json_answer(raw=BAD_TOKEN_ANSWERS[answer]))
    with host_app.app_context():
        conn = extension.state().host.db.session.merge(alice)
        with pytest.raises(TraktError) as raised:
            make_call(conn)
    assert str(raised.value).startswith("Trakt's token answer") or "Trakt" in str(raised.value)


BAD_DEVICE_CODES = {
    "deep json": DEEP,
    "huge number": '{"device_code": ' + huge_number() + "}",
    "a list": "[]",
    "interval huge": json.dumps(
        {
            "device_code": "d",
            "user_code": "U",
            "expires_in": 600,
            "verification_url": "https://trakt.tv/activate",
            "interval": 10**30,
        }
    ),
    "codes are dicts": json.dumps(
        {
            "device_code": {},
            "user_code": [],
            "expires_in": 600,
            "verification_url": "https://trakt.tv/activate",
            "interval": 5,
        }
    ),
}


@pytest.mark.parametrize("answer", sorted(BAD_DEVICE_CODES))
def test_a_malformed_device_code_answer_is_a_clear_error(host_app, alice, hostile, answer):
    hostile.arm("/oauth/device/code", json_answer(raw=BAD_DEVICE_CODES[answer]))
    with host_app.app_context(), pytest.raises(TraktError) as raised:
        oauth.start_device_flow()
    assert str(raised.value) == device_flow.MSG_DEVICE_CODE_INCOMPLETE


@pytest.mark.parametrize("answer", ["deep json", "huge number"])
def test_a_malformed_api_answer_is_a_clear_error(host_app, alice, hostile, answer):
    raw = DEEP if answer == "deep json" else huge_number()
    hostile.arm("/users/settings", json_answer(raw=raw))
    with host_app.app_context(), pytest.raises(MalformedResponse):
        oauth.api_client().get_json("/users/settings", token=alice.access_token)


@pytest.mark.parametrize("answer", ["deep json", "huge number", "wrong types"])
def test_malformed_ratings_fail_the_run_and_lose_nothing(host_app, alice, hostile, sandbox, answer):
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    rate_on_trakt(sandbox, token, INCEPTION, 7, sandbox_now(sandbox))
    with host_app.app_context():
        assert sync.sync_user_ratings(alice.user_id).status == "synced"
    sandbox.advance_clock(2)
    rate_on_trakt(sandbox, token, MATRIX, 9, sandbox_now(sandbox))
    raw = {
        "deep json": DEEP,
        "huge number": "[" + huge_number() + "]",
        "wrong types": json.dumps({"rating": "x"}),
    }[answer]
    hostile.arm("/sync/ratings/movies", json_answer(raw=raw))
    with host_app.app_context(), pytest.raises(MalformedResponse):
        sync.sync_user_ratings(alice.user_id)
    assert values(host_ratings(host_app, USER)) == {INCEPTION: 7}

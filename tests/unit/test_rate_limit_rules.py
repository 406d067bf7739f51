"""Trakt's rate-limit rules over plain values (``trakt.rate_limits``), without Redis:
which bucket a call spends from, what an answer's ``X-Ratelimit`` says, what a 429
closes and for how long. The counting in Redis is tested in
``integration/test_rate_limits.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from aperture_trakt_plugin.trakt.errors import RateLimited
from aperture_trakt_plugin.trakt.rate_limits import (
    APP_GET,
    NO_RETRY_AFTER,
    SERVER,
    USER_GET,
    USER_WRITE,
    Ticket,
    anonymous,
    closed_by,
    reported,
    ticket_for,
    until_timestamp,
    wait_seconds,
)

RANGE = (1.0, 3600.0)
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC).timestamp()


def header(**fields: object) -> dict[str, str]:
    return {"X-Ratelimit": json.dumps(fields)}


@pytest.mark.parametrize(
    ("method", "token", "user_key", "expected"),
    [
        ("GET", None, None, Ticket(APP_GET, anonymous("client-id"))),
        ("GET", "token", "7", Ticket(USER_GET, "7")),
        ("get", "token", None, Ticket(USER_GET, anonymous("token"))),
        ("POST", "token", "7", Ticket(USER_WRITE, "7")),
        ("DELETE", "token", "7", Ticket(USER_WRITE, "7")),
    ],
)
def test_a_call_spends_from_the_bucket_trakt_counts_it_in(method, token, user_key, expected):
    assert ticket_for(method, token, user_key, "client-id") == expected


def test_no_secret_is_a_key_as_it_is():
    key = anonymous("a-token")
    assert "a-token" not in key and len(key) == 16 and key == anonymous("a-token")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"X-Ratelimit": "not json"}, None),
        ({"X-Ratelimit": "[1, 2]"}, None),
        (header(name="AUTHED_API_GET_LIMIT", remaining="ten"), None),
        (header(name="AUTHED_API_GET_LIMIT", remaining=42), (USER_GET, 42, 0.0)),
        (header(name="SOMETHING_NEW", remaining=3), (APP_GET, 3, 0.0)),
        (
            header(name="AUTHED_API_POST_LIMIT", remaining=0, until="2026-12-04T12:00:30Z"),
            (USER_WRITE, 0, 30.0),
        ),
        # a time without a zone is UTC, as Trakt's are
        (header(remaining=0, until="2026-12-04T12:01:00"), (APP_GET, 0, 60.0)),
        # an hour at most, however far Trakt's side says
        (header(remaining=0, until="2999-01-01T00:00:00Z"), (APP_GET, 0, 3600.0)),
        # in the past, or unreadable: closed for no time
        (header(remaining=0, until="2026-12-04T11:00:00Z"), (APP_GET, 0, 0.0)),
        (header(remaining=0, until="x" * 65), (APP_GET, 0, 0.0)),
    ],
)
def test_what_an_answer_says_is_left(headers, expected):
    assert reported(APP_GET, headers, RANGE, NOW) == expected


def rate_limited(retry_after: float | None, ratelimit: dict | None) -> RateLimited:
    return RateLimited("429", retry_after, ratelimit, status=429)


def test_trakts_429_closes_the_bucket_it_names_until_retry_after():
    error = rate_limited(20, {"name": "AUTHED_API_POST_LIMIT"})
    assert closed_by(Ticket(USER_GET, "7"), error, RANGE) == (Ticket(USER_WRITE, "7"), 20)


def test_cloudflares_429_closes_the_whole_server():
    error = rate_limited(None, None)
    assert closed_by(Ticket(USER_GET, "7"), error, RANGE) == (Ticket(SERVER, "all"), NO_RETRY_AFTER)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        (0, 1.0),
        (-5, 1.0),
        ("999999999", 3600.0),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        (True, None),
        (None, None),
    ],
)
def test_a_wait_is_finite_and_within_the_range(value, expected):
    assert wait_seconds(value, RANGE) == expected


def test_until_reads_only_a_time():
    assert until_timestamp("2026-12-04T12:00:00Z") == NOW
    assert until_timestamp(12) is None
    assert until_timestamp("tomorrow") is None

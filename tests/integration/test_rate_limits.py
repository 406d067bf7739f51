"""The shared Trakt budgets (``storage.budgets.Budgets``) on the session's real Redis.

Each ``Budgets`` here stands for one process (a web worker, an RQ worker): they share
nothing but Redis, so whatever one spends or closes, the other must see.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from aperture_trakt_plugin.storage.budgets import Budgets
from aperture_trakt_plugin.trakt.errors import RateLimited
from aperture_trakt_plugin.trakt.rate_limits import APP_GET, SERVER, USER_GET, USER_WRITE, Ticket
from harness.services import free_port

CLIENT_ID = "client-id"


@pytest.fixture()
def redis(redis_url):
    conn = Redis.from_url(redis_url)
    yield conn
    conn.close()


def two(redis: Redis, limits: dict[str, str] | None = None) -> tuple[Budgets, Budgets]:
    """Two processes' budgets on one Redis (each with its own connection pool)."""
    other = Redis(
        connection_pool=type(redis.connection_pool)(**redis.connection_pool.connection_kwargs)
    )
    return Budgets(redis, limits), Budgets(other, limits)


def trakt_429(retry_after: float, name: str | None) -> RateLimited:
    ratelimit = (
        None
        if name is None
        else {"name": name, "period": 300, "limit": 1000, "remaining": 0, "until": None}
    )
    return RateLimited(
        "GET /sync/last_activities: Trakt's rate limit was reached",
        retry_after,
        ratelimit,
        status=429,
    )


def x_ratelimit(name: str, remaining: int, until: datetime | None = None) -> dict[str, str]:
    return {
        "X-Ratelimit": json.dumps(
            {
                "name": name,
                "period": 300,
                "limit": 10,
                "remaining": remaining,
                "until": until.isoformat() if until else None,
            }
        )
    }


def test_two_processes_spend_one_budget(redis):
    first, second = two(redis, {USER_GET: "3 per 5 minutes"})
    first.take(USER_GET, "7", "call 1")
    second.take(USER_GET, "7", "call 2")
    first.take(USER_GET, "7", "call 3")
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        second.take(USER_GET, "7", "call 4")
    assert time.monotonic() - started < 1  # raised, not slept
    assert 290 <= caught.value.retry_after <= 300, caught.value.retry_after
    assert "call 4: held back" in str(caught.value)
    # Another user's budget is their own.
    second.take(USER_GET, "8", "another user's call")


def test_a_429_closes_the_named_bucket_for_every_process_and_only_that_user(redis):
    first, second = two(redis)
    first.after(Ticket(USER_GET, "7"), None, trakt_429(3000, "AUTHED_API_GET_LIMIT"))
    assert 2995 <= second.closed_for(USER_GET, "7") <= 3000
    assert second.closed_for(USER_GET, "8") == 0
    assert second.closed_for(USER_WRITE, "7") == 0
    with pytest.raises(RateLimited) as caught:
        second.before("GET", "a-token", "7", CLIENT_ID, "GET /sync/last_activities")
    assert caught.value.retry_after > 2990
    second.before("GET", "b-token", "8", CLIENT_ID, "another user")  # goes ahead


def test_a_429_names_the_bucket_trakt_counted(redis):
    """A write answered with Trakt's GET limit closes the GET bucket, not the writes."""
    budgets = Budgets(redis)
    budgets.after(Ticket(USER_WRITE, "7"), None, trakt_429(120, "AUTHED_API_GET_LIMIT"))
    assert 115 <= budgets.closed_for(USER_GET, "7") <= 120
    assert budgets.closed_for(USER_WRITE, "7") == 0


def test_a_cloudflare_429_closes_every_bucket_of_the_server(redis):
    first, second = two(redis)
    first.after(Ticket(USER_GET, "7"), None, trakt_429(3000, None))
    for bucket, key in (
        (USER_GET, "7"),
        (USER_GET, "8"),
        (APP_GET, "any"),
        (USER_WRITE, "9"),
        (SERVER, "all"),
    ):
        assert 2995 <= second.closed_for(bucket, key) <= 3000, (bucket, key)
    with pytest.raises(RateLimited):
        second.before("GET", None, None, CLIENT_ID, "GET /movies/trending")
    with pytest.raises(RateLimited):
        second.before("POST", "c-token", "9", CLIENT_ID, "POST /sync/ratings")


def test_what_trakt_reports_left_wins_when_it_is_less(redis):
    first, second = two(redis, {USER_GET: "10 per 5 minutes"})
    first.take(USER_GET, "7", "call")
    stats = first.limiter.get_window_stats(first.items[USER_GET], USER_GET, "7")
    assert stats.remaining == 9
    # The user's other apps spent more: Trakt says 4 are left.
    first.after(Ticket(USER_GET, "7"), x_ratelimit("AUTHED_API_GET_LIMIT", 4), None)
    stats = second.limiter.get_window_stats(second.items[USER_GET], USER_GET, "7")
    assert stats.remaining == 4
    # Trakt saying more is left than we counted changes nothing.
    first.after(Ticket(USER_GET, "7"), x_ratelimit("AUTHED_API_GET_LIMIT", 8), None)
    assert second.limiter.get_window_stats(second.items[USER_GET], USER_GET, "7").remaining == 4
    for n in range(4):
        second.take(USER_GET, "7", f"call {n}")
    with pytest.raises(RateLimited):
        second.take(USER_GET, "7", "one too many")


def test_nothing_left_until_a_future_time_closes_the_bucket(redis):
    first, second = two(redis)
    until = datetime.now(UTC) + timedelta(seconds=100)
    first.after(Ticket(USER_GET, "7"), x_ratelimit("AUTHED_API_GET_LIMIT", 0, until), None)
    assert 95 <= second.closed_for(USER_GET, "7") <= 100
    assert second.closed_for(USER_GET, "8") == 0
    # Nothing left, but the time has passed already: nothing to close.
    past = datetime.now(UTC) - timedelta(seconds=5)
    first.after(Ticket(USER_GET, "8"), x_ratelimit("AUTHED_API_GET_LIMIT", 0, past), None)
    assert second.closed_for(USER_GET, "8") == 0


def test_writes_are_spaced_from_the_answer_of_the_previous_one(redis):
    first, second = two(redis)
    assert first.write_spacing == 1.0
    ticket = first.before("POST", "a-token", "7", CLIENT_ID, "POST /sync/ratings")
    assert ticket == Ticket(USER_WRITE, "7")
    time.sleep(0.3)  # the write's round trip
    first.after(ticket, {}, None)
    answered = time.monotonic()
    second.before("POST", "a-token", "7", CLIENT_ID, "POST /sync/ratings/remove")
    assert time.monotonic() - answered >= first.write_spacing - 0.02
    # Another user's write does not wait.
    started = time.monotonic()
    second.before("POST", "b-token", "8", CLIENT_ID, "POST /sync/ratings")
    assert time.monotonic() - started < 0.5


def test_a_write_wait_longer_than_max_sleep_raises(redis):
    budgets = Budgets(redis, {USER_WRITE: "1 per minute"}, max_sleep=5)
    budgets.before("POST", "a-token", "7", CLIENT_ID, "POST /sync/ratings")
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        budgets.before("POST", "a-token", "7", CLIENT_ID, "POST /sync/ratings")
    assert time.monotonic() - started < 1
    assert 55 <= caught.value.retry_after <= 60


def test_a_typo_in_the_limits_names_the_known_buckets(redis):
    with pytest.raises(ValueError) as caught:
        Budgets(redis, {"user_gets": "1000 per 5 minutes"})
    message = str(caught.value)
    assert "APERTURE_TRAKT_RATE_LIMITS" in message and "'user_gets'" in message
    assert "['app_get', 'user_get', 'user_write']" in message


def test_a_typo_fails_the_app_at_start(redis_url, tmp_path):
    from harness.reference_host import create_app

    with pytest.raises(ValueError, match="known: \\['app_get', 'user_get', 'user_write'\\]"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "x",
                "REDIS_URL": redis_url,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'host.db'}",
                "APERTURE_TRAKT_RATE_LIMITS": {"usr_get": "1 per second"},
            }
        )


def test_with_redis_unreachable_calls_go_ahead_uncounted(caplog):
    down = Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5
    )
    budgets = Budgets(down, {USER_GET: "1 per 5 minutes"})
    started = time.monotonic()
    for n in range(3):  # over the limit: nothing counts it
        budgets.take(USER_GET, "7", f"call {n}")
    ticket = budgets.before("GET", "a-token", "7", CLIENT_ID, "GET /sync/last_activities")
    budgets.after(
        ticket,
        x_ratelimit("AUTHED_API_GET_LIMIT", 0, datetime.now(UTC) + timedelta(seconds=60)),
        None,
    )
    budgets.after(ticket, None, trakt_429(3000, None))
    write = budgets.before("POST", "a-token", "7", CLIENT_ID, "POST /sync/ratings")
    budgets.after(write, {}, None)
    budgets.before("POST", "a-token", "7", CLIENT_ID, "POST /sync/ratings")  # not spaced
    assert time.monotonic() - started < 5
    assert "not counted while Redis is unreachable" in caplog.text

"""Trakt's rate limits as budgets in Redis, shared by every worker and web process.

Trakt counts three buckets (CONTRACT section 9): GETs per user token, GETs without a
token per app and public IP, and writes per user. A server runs several processes for
many users, so counting in one process would let four workers together overshoot four
times. The counting is the ``limits`` library's moving window in Redis; this module adds
what Trakt adds on top of plain counting:

* a 429, or an ``X-Ratelimit`` saying nothing is left, closes the bucket for every process
  until Trakt's time (``Retry-After`` can be 2,852 s), and a Cloudflare 429 (no
  ``X-Ratelimit``: it is about this server's IP) closes every bucket of the server;
* what Trakt reports as left wins when it is less than our count (the user's other apps
  spend from the same bucket);
* a wait longer than ``max_sleep`` is not slept: it becomes :class:`RateLimited`, which
  a job turns into a reschedule, so no worker sits idle for minutes;
* writes are spaced from when Trakt *answered* the previous one, not when it was sent:
  Trakt starts its second when the write arrives, and spacing from the send alone let the
  next write land inside that second and draw a 429.

Redis down: calls go ahead uncounted (with a warning) rather than fail a web request; the
next 429, if any, is handled as usual.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from typing import cast

from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import Redis
from redis.exceptions import RedisError

from aperture_trakt_plugin.trakt.errors import RateLimited, TraktError
from aperture_trakt_plugin.trakt.rate_limits import (
    DEFAULT_LIMITS,
    DEFAULT_WAIT_RANGE,
    SERVER,
    USER_WRITE,
    Ticket,
    closed_by,
    reported,
    ticket_for,
)

log = logging.getLogger(__name__)

PREFIX = "aperture-trakt:rate"
CLOSED_KEY = PREFIX + ":closed:{bucket}:{key}"
LAST_WRITE_KEY = PREFIX + ":last-write:{key}"

#: A call held back before it went out (a 429 of Trakt's reads as ``errors.MSG_RATE_LIMITED``);
#: ``{why}`` is one of the three reasons below.
MSG_HELD_BACK = "{what}: held back, {why}; continues in {seconds:.0f} s"
MSG_BUDGET_SPENT = "this server's budget of {limit} for Trakt is spent"
MSG_WRITE_SPACING = "Trakt allows one write per second"
MSG_TRAKT_ASKED = "Trakt asked us to wait (429)"
MSG_UNKNOWN_BUCKETS = "APERTURE_TRAKT_RATE_LIMITS: unknown bucket(s) {unknown}; known: {known}"


def parse_limits(overrides: Mapping[str, str] | None) -> dict[str, RateLimitItem]:
    """Our buckets with the configured limits (``limits`` notation: "500 per 5 minutes")."""
    unknown = set(overrides or {}) - set(DEFAULT_LIMITS)
    if unknown:
        raise ValueError(
            MSG_UNKNOWN_BUCKETS.format(unknown=sorted(unknown), known=sorted(DEFAULT_LIMITS))
        )
    return {name: parse(text) for name, text in {**DEFAULT_LIMITS, **(overrides or {})}.items()}


class Budgets:
    """The server's shared Trakt budgets. Cheap to create; the state is all in Redis."""

    def __init__(
        self,
        redis: Redis,
        limits: Mapping[str, str] | None = None,
        max_sleep: float = 5.0,
        wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE,
    ) -> None:
        self.redis = redis
        #: How long Trakt's side may close a bucket, at least and at most: no answer,
        #: however hostile, closes the server's budget for longer than the top.
        self.wait_range = wait_range
        self.items = parse_limits(limits)
        self.max_sleep = max_sleep
        storage = RedisStorage("redis://", connection_pool=redis.connection_pool, key_prefix=PREFIX)
        self.limiter = MovingWindowRateLimiter(storage)

    @property
    def write_spacing(self) -> float:
        item = self.items[USER_WRITE]
        return item.get_expiry() / item.amount

    # --- the client's side (``trakt.client.CallBudget``) -------------------------------------

    def before(
        self, method: str, token: str | None, user_key: str | None, client_id: str, what: str
    ) -> Ticket:
        """Spends from the call's bucket, or waits, or raises RateLimited (see module)."""
        ticket = ticket_for(method, token, user_key, client_id)
        if ticket.bucket == USER_WRITE:
            self.wait_for_write(ticket.key, what)
            self.mark_write(ticket.key)
        else:
            self.take(ticket.bucket, ticket.key, what)
        return ticket

    def after(
        self, ticket: Ticket, headers: Mapping[str, str] | None, error: TraktError | None
    ) -> None:
        if ticket.bucket == USER_WRITE:
            self.mark_write(ticket.key)
        if isinstance(error, RateLimited):
            self.rate_limited(ticket.bucket, ticket.key, error)
        elif headers:
            self.observe(ticket.bucket, ticket.key, headers)

    # --- before a call ----------------------------------------------------------------

    def take(self, bucket: str, key: str, what: str) -> None:
        """One call from ``bucket``; waits up to ``max_sleep``, else raises RateLimited."""
        try:
            self._wait_until_open(bucket, key, what)
            item = self.items[bucket]
            while not self.limiter.hit(item, bucket, key):
                reset = self.limiter.get_window_stats(item, bucket, key).reset_time
                self._sleep_or_raise(
                    max(reset - time.time(), 0.05), what, MSG_BUDGET_SPENT.format(limit=item)
                )
        except RedisError as exc:
            log.warning(
                "%s: Trakt's rate budget is not counted while Redis is unreachable (%s)",
                what,
                type(exc).__name__,
            )

    def wait_for_write(self, key: str, what: str) -> None:
        """Until the user's next write may go (without claiming it)."""
        try:
            self._wait_until_open(USER_WRITE, key, what)
            wait = self._spacing_left(key)
        except RedisError as exc:
            log.warning(
                "%s: writes are not spaced while Redis is unreachable (%s)",
                what,
                type(exc).__name__,
            )
            return
        if wait > 0:
            self._sleep_or_raise(wait, what, MSG_WRITE_SPACING)

    def write_wait(self, key: str) -> float:
        """Seconds until the user's next write may go (0: now), without waiting: a job
        with more writes to make asks this to decide whether to hand its worker to other
        users' work meanwhile. Unknown (Redis down) counts as 0, as in ``wait_for_write``."""
        try:
            return max(self.closed_for(USER_WRITE, key), self._spacing_left(key))
        except RedisError:
            return 0.0

    def _spacing_left(self, key: str) -> float:
        # redis-py types its sync client's answers as ``Awaitable[...] | ...``.
        last = cast(bytes | None, self.redis.get(LAST_WRITE_KEY.format(key=key)))
        return self.write_spacing - (time.time() - float(last)) if last is not None else 0.0

    def mark_write(self, key: str) -> None:
        """Starts the user's write interval now: before a write (others wait) and again
        when its answer is back (Trakt counted it from its arrival)."""
        with contextlib.suppress(RedisError):
            self.redis.set(
                LAST_WRITE_KEY.format(key=key),
                repr(time.time()),
                px=max(int(self.write_spacing * 1000) * 2, 1000),
            )

    # --- after an answer --------------------------------------------------------------

    def observe(self, bucket: str, key: str, headers: Mapping[str, str]) -> None:
        """Takes in what Trakt says is left (``X-Ratelimit``), on any answer."""
        left = reported(bucket, headers, self.wait_range, time.time())
        if left is None:
            return
        bucket, remaining = left.bucket, left.remaining
        try:
            if remaining <= 0:
                if left.closed_for:
                    self.close(bucket, key, left.closed_for)
                return
            if bucket == USER_WRITE:
                return
            item = self.items[bucket]
            ours = self.limiter.get_window_stats(item, bucket, key).remaining
            if ours > remaining:
                self.limiter.hit(item, bucket, key, cost=ours - remaining)
        except RedisError:
            pass

    def rate_limited(self, bucket: str, key: str, error: RateLimited) -> None:
        """A 429: the bucket Trakt names (every bucket for Cloudflare's) stays closed for
        every process until ``Retry-After``."""
        (bucket, key), seconds = closed_by(Ticket(bucket, key), error, self.wait_range)
        with contextlib.suppress(RedisError):
            self.close(bucket, key, seconds)

    def close(self, bucket: str, key: str, seconds: float) -> None:
        self.redis.set(
            CLOSED_KEY.format(bucket=bucket, key=key), "1", px=max(int(seconds * 1000), 1)
        )

    def closed_for(self, bucket: str, key: str) -> float:
        """Seconds until the bucket (or the whole server) opens again; 0 when open."""
        pipe = self.redis.pipeline()
        pipe.pttl(CLOSED_KEY.format(bucket=SERVER, key="all"))
        pipe.pttl(CLOSED_KEY.format(bucket=bucket, key=key))
        ttls: list[int] = pipe.execute()
        return max([0, *ttls]) / 1000

    # --- helpers ------------------------------------------------------------------------

    def _wait_until_open(self, bucket: str, key: str, what: str) -> None:
        wait = self.closed_for(bucket, key)
        if wait > 0:
            self._sleep_or_raise(wait, what, MSG_TRAKT_ASKED)

    def _sleep_or_raise(self, wait: float, what: str, why: str) -> None:
        if wait > self.max_sleep:
            raise RateLimited(
                MSG_HELD_BACK.format(what=what, why=why, seconds=wait), wait, None, status=429
            )
        time.sleep(wait)

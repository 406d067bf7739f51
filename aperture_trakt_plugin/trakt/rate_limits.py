"""Trakt's rate limits as rules over plain values: its buckets and their limits, which
bucket a call spends from, what an answer says is left, how long a 429 closes what.

The counting itself is shared by every process of the server, so it lives in Redis
(``storage.budgets``); these rules are kept apart so they can be read against CONTRACT
section 9 and tested without a Redis."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from aperture_trakt_plugin.trakt.errors import RateLimited

USER_GET, APP_GET, USER_WRITE = "user_get", "app_get", "user_write"
#: Trakt's limits as of 2026 (CONTRACT 9; staff, trakt/trakt-api #909). Older guides say
#: 1,000 per 5 minutes, which is why ``APERTURE_TRAKT_RATE_LIMITS`` can override each.
DEFAULT_LIMITS: dict[str, str] = {
    USER_GET: "500 per 5 minutes",
    APP_GET: "500 per 5 minutes",
    USER_WRITE: "1 per second",
}
#: ``X-Ratelimit`` names → our buckets.
TRAKT_NAMES = {
    "AUTHED_API_GET_LIMIT": USER_GET,
    "UNAUTHED_API_GET_LIMIT": APP_GET,
    "AUTHED_API_POST_LIMIT": USER_WRITE,
}
SERVER = "server"  # the bucket a Cloudflare 429 closes: every call from this IP
NO_RETRY_AFTER = 60.0  # a 429 without Retry-After (the security layer's): wait this long

#: The shortest and longest wait (seconds) Trakt's side may ask for, ``Retry-After`` or
#: ``X-Ratelimit.until``. Trakt's longest seen is 2,852 s; beyond an hour a wait is a broken
#: or hostile answer (one ``Retry-After: 999999999`` closed the server's budget for 31
#: years), and below a second it asks for a retry loop. ``APERTURE_TRAKT_WAIT_RANGE``.
DEFAULT_WAIT_RANGE: tuple[float, float] = (1.0, 3600.0)


def bounded_wait(seconds: float, wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE) -> float:
    """``seconds`` clamped into ``wait_range``; callers pass only finite numbers."""
    low, high = wait_range
    return min(max(seconds, low), high)


def wait_seconds(value: Any, wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE) -> float | None:
    """A wait Trakt's side sent (a number or its text), clamped; None when it is not a
    finite number (``inf``, ``nan``, text, a date): read as "no wait given", whose own
    default applies, rather than as forever or as a crash."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return bounded_wait(seconds, wait_range) if math.isfinite(seconds) else None


def ratelimit_header(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """``X-Ratelimit`` as a dict (name, period, limit, remaining, until), if well formed."""
    raw = headers.get("X-Ratelimit")
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def anonymous(secret: str) -> str:
    """A key part for a token or client id, which must not be stored as is."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class Ticket(NamedTuple):
    """Which budget a call spent from, for what comes back."""

    bucket: str
    key: str


def ticket_for(method: str, token: str | None, user_key: str | None, client_id: str) -> Ticket:
    """The bucket a call spends from: without a token, the app's (per client id); with
    one, the user's reads or writes (``user_key``, or the token anonymised)."""
    if token is None:
        return Ticket(APP_GET, anonymous(client_id))
    key = user_key or anonymous(token)
    return Ticket(USER_GET if method.upper() == "GET" else USER_WRITE, key)


class Reported(NamedTuple):
    """What an answer's ``X-Ratelimit`` says of a bucket: the calls left, and for how
    long it is closed (0: open, or no usable ``until``)."""

    bucket: str
    remaining: int
    closed_for: float


def reported(
    bucket: str, headers: Mapping[str, str], wait_range: tuple[float, float], now: float
) -> Reported | None:
    """Trakt's own count for the call's bucket (the one it names, if it names one we
    know), or None when the answer carries no usable count."""
    ratelimit = ratelimit_header(headers)
    if ratelimit is None:
        return None
    bucket = TRAKT_NAMES.get(str(ratelimit.get("name")), bucket)
    remaining = ratelimit.get("remaining")
    if not isinstance(remaining, int):
        return None
    closed_for = 0.0
    if remaining <= 0:
        until = until_timestamp(ratelimit.get("until"))
        if until is not None and until > now:
            closed_for = bounded_wait(until - now, wait_range)
    return Reported(bucket, remaining, closed_for)


def closed_by(
    ticket: Ticket, error: RateLimited, wait_range: tuple[float, float]
) -> tuple[Ticket, float]:
    """What a 429 closes, and for how many seconds: the bucket Trakt names, or every
    bucket of the server for Cloudflare's 429 (no ``X-Ratelimit``: it is about this
    server's IP), until ``Retry-After``."""
    seconds = bounded_wait(
        error.retry_after if error.retry_after is not None else NO_RETRY_AFTER, wait_range
    )
    if error.ratelimit is None:
        return Ticket(SERVER, "all"), seconds
    bucket = TRAKT_NAMES.get(str(error.ratelimit.get("name")), ticket.bucket)
    return Ticket(bucket, ticket.key), seconds


def until_timestamp(value: Any) -> float | None:
    """``X-Ratelimit.until`` as a timestamp (a time without a zone is UTC, as Trakt's
    are); None for anything else, however long or odd."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError, OSError):
        return None

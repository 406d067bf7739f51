"""Trakt's three rate-limit buckets (CONTRACT section 9), on the sandbox clock.

Each bucket key (a user, or a client id + IP) gets a fixed window that opens with its
first call and lasts ``period`` seconds; the ``limit + 1``-th call inside it is refused
until the window ends. A fixed window is O(1) per call and gives an exact ``Retry-After``
(the seconds until the window closes), which is what a client needs to test its backoff.
Successful calls carry no ``X-Ratelimit`` header: Trakt documents it only on 429s.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.trakt_sandbox.clock import Clock, iso_seconds

AUTHED_GET = "AUTHED_API_GET_LIMIT"
UNAUTHED_GET = "UNAUTHED_API_GET_LIMIT"
AUTHED_WRITE = "AUTHED_API_POST_LIMIT"
# Control-API names of the limits, and the bucket and period each one sets.
LIMIT_NAMES = {
    "get_per_5min": (AUTHED_GET, 300),
    "unauthed_get_per_5min": (UNAUTHED_GET, 300),
    "writes_per_second": (AUTHED_WRITE, 1),
}


@dataclass
class Rejection:
    """A refused call: what the 429's ``Retry-After`` and ``X-Ratelimit`` say."""

    retry_after: int
    header: str


@dataclass
class _Window:
    start: float
    count: int


class RateLimiter:
    def __init__(self, clock: Clock, limits: dict[str, int]) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._defaults = dict(limits)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._windows: dict[tuple[str, ...], _Window] = {}
            self.limits: dict[str, tuple[int, int]] = {}
            self._apply(self._defaults)

    def configure(self, limits: dict[str, Any]) -> None:
        """Override some limits (``PUT /_sandbox/limits``); open windows start afresh."""
        unknown = set(limits) - set(LIMIT_NAMES)
        if unknown:
            raise ValueError(f"unknown limits: {sorted(unknown)}")
        with self._lock:
            self._apply(limits)
            self._windows.clear()

    def _apply(self, limits: dict[str, Any]) -> None:
        for name, value in limits.items():
            bucket, period = LIMIT_NAMES[name]
            self.limits[bucket] = (int(value), period)

    def as_json(self) -> dict[str, int]:
        return {name: self.limits[bucket][0] for name, (bucket, _) in LIMIT_NAMES.items()}

    def hit(self, bucket: str, *key: str) -> Rejection | None:
        """Count one call against ``bucket`` for ``key``; a Rejection if it is over."""
        limit, period = self.limits[bucket]
        now = self.clock.time()
        with self._lock:
            window = self._windows.get((bucket, *key))
            if window is None or now >= window.start + period:
                window = self._windows[(bucket, *key)] = _Window(now, 0)
            if window.count < limit:
                window.count += 1
                return None
            ends = window.start + period
        header = json.dumps(
            {
                "name": bucket,
                "period": period,
                "limit": limit,
                "remaining": 0,
                "until": iso_seconds(datetime.fromtimestamp(math.ceil(ends), UTC)),
            },
            separators=(",", ":"),
        )
        return Rejection(max(1, math.ceil(ends - now)), header)

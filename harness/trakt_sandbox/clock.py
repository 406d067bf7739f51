"""The sandbox's single source of time.

Token expiry, rate-limit windows, device-code lifetimes and every timestamp the API
returns read this clock, so a test can jump forward (``POST /_sandbox/clock``) instead of
sleeping, and everything that depends on time moves together.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock:
    """Real UTC time plus an offset that only ever grows."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def time(self) -> float:
        """Seconds since the epoch, like ``time.time()`` but shifted."""
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock never goes back")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


def iso(moment: datetime) -> str:
    """Trakt's date format: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(moment: datetime) -> str:
    """The ``until`` of ``X-Ratelimit`` is written without milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(value: object) -> datetime | None:
    """An ISO datetime or a bare date (history filters accept both) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def truncate_ms(moment: datetime) -> datetime:
    """Stored times keep millisecond precision only, as Trakt's responses do."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

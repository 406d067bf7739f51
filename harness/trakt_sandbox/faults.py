"""Injected failures: the next N calls matching a method and a path get a canned answer.

Tests use this for everything a healthy sandbox would never do on its own: 5xx and 52x,
426, slow answers (``delay_ms``), and Cloudflare's answers by name: ``"preset":
"cloudflare-403"`` (the HTML block page) or ``"cloudflare-429"`` (HTML, ``Retry-After``
from ``retry_after``, default 300, null for none; no ``X-Ratelimit``), see
``cloudflare.py``. A preset's ``headers`` are added to (or replace) its own.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from harness.trakt_sandbox.cloudflare import PRESETS


@dataclass
class Fault:
    method: str  # "*" matches every method
    path: str  # an exact path, or a regular expression matched against the whole path
    status: int | None = None  # None with a delay: delay, then answer normally
    count: int = 1  # calls left; a negative count never runs out
    body: Any = None
    headers: dict[str, str] | None = None
    delay_ms: int | None = None
    preset: str | None = None  # one of cloudflare.PRESETS: the answer is built for you
    retry_after: int | None = 300  # the cloudflare-429 preset's Retry-After

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {list(PRESETS)}")
        try:
            self._pattern: re.Pattern[str] | None = re.compile(self.path)
        except re.error:
            self._pattern = None

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        if self.path == path:
            return True
        return self._pattern is not None and self._pattern.fullmatch(path) is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "count": self.count,
            "body": self.body,
            "headers": self.headers,
            "delay_ms": self.delay_ms,
            "preset": self.preset,
            "retry_after": self.retry_after,
        }


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.status is None and not fault.delay_ms and fault.preset is None:
            raise ValueError(
                "a fault needs a status, a preset, a delay_ms, or a delay and one of the others"
            )
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching fault, spending one of its calls (oldest fault first)."""
        if not self._faults:  # the common case costs one truth test
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def as_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_json() for fault in self._faults]

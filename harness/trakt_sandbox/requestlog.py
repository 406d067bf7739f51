"""The bounded, in-memory log of every API and OAuth call, for tests to assert on."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)  # deque.append is atomic: no lock on the hot path

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        """Oldest first; filters compare as strings (``status=429``, ``user=alice``)."""
        with self._lock:
            entries = list(self._entries)
        wanted = {
            key: value
            for key, value in filters.items()
            if key in ("method", "path", "status", "user")
        }
        if "path_prefix" in filters:
            prefix = filters["path_prefix"]
            entries = [entry for entry in entries if entry["path"].startswith(prefix)]
        return [
            entry
            for entry in entries
            if all(str(entry[key]) == value for key, value in wanted.items())
        ]

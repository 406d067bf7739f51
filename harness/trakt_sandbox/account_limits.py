"""Account limits of 2026, free and VIP (CONTRACT 10 table, 6.3, 6.6; checklist 14).

A write that would take an account past a cap is answered **420**, by default with an
empty body and no limit headers (``user-account-limits.md`` @ 007b0a6: "can have an empty
body and no limit headers"; no ``X-Account-Limit`` was seen in 2025). Whether Trakt
rejects such a batch whole or applies part of it is unknown, so both are modes:

* ``reject`` (default): nothing of the batch is written.
* ``partial``: the batch is written in order up to the cap, then 420; nothing in the
  answer says how much went in (a client must re-read).

Only items that take new room count: re-rating a rated title or re-listing a listed one
does not, and removals free room. Caps enforced by the sandbox's writes: ``ratings``
(``POST /sync/ratings``), ``watchlist`` (``POST /sync/watchlist``) and ``history`` (plays,
``POST /sync/history``). ``lists``, ``list_items``, ``all_list_items``, ``collection``
and ``favorites`` have no write endpoint here; they are configurable and
``/users/settings`` reports the ones Trakt reports. ``apps`` is the number of community
apps a user may connect (4.1).

Control: ``PUT /_sandbox/account-limits`` with any of
``{"<cap>": {"free": n, "vip": n}, "mode": "reject" | "partial", "body": "empty" | "json"}``
answers the whole configuration, ``GET`` reads it, ``/_sandbox/reset`` restores it. A
user's tier is its ``vip`` flag (``POST /_sandbox/users`` or ``PUT /_sandbox/users/<name>``).
"""

from __future__ import annotations

import threading
from collections.abc import Container, Hashable, Iterable
from typing import Any

from flask import Response

from harness.trakt_sandbox.protocol import error_response
from harness.trakt_sandbox.state import User

# (free, VIP), the 2026 table of CONTRACT 10. favorites is not in it [unverified figures].
DEFAULT_CAPS: dict[str, tuple[int, int]] = {
    "ratings": (10_000, 20_000),
    "watchlist": (250, 5_000),
    "history": (100_000, 100_000),
    "lists": (5, 100),
    "list_items": (250, 5_000),
    "all_list_items": (1_000, 100_000),
    "collection": (1_000, 100_000),
    "favorites": (50, 500),
    "apps": (1, 50),
}
MODES = ("reject", "partial")
BODIES = ("empty", "json")


def fresh_flags(keys: Iterable[Hashable], existing: Container[Hashable]) -> list[bool]:
    """For each item of a batch, in order: does it take new room? (Duplicates count once.)"""
    seen: set[Hashable] = set()
    flags = []
    for key in keys:
        flags.append(key not in existing and key not in seen)
        seen.add(key)
    return flags


class AccountLimits:
    def __init__(self, config: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._defaults = dict(DEFAULT_CAPS)
        self._defaults["watchlist"] = (
            int(config["SANDBOX_WATCHLIST_LIMIT"]),
            int(config["SANDBOX_VIP_WATCHLIST_LIMIT"]),
        )
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.caps: dict[str, tuple[int, int]] = dict(self._defaults)
            self.mode = MODES[0]
            self.body = BODIES[0]

    def configure(self, data: dict[str, Any]) -> None:
        """Apply a PUT; a bad key or value changes nothing."""
        caps = dict(self.caps)
        for name, value in data.items():
            if name in ("mode", "body"):
                if value not in (MODES if name == "mode" else BODIES):
                    raise ValueError(
                        f"{name} must be one of {list(MODES if name == 'mode' else BODIES)}"
                    )
                continue
            if name not in caps:
                raise ValueError(f"unknown limit {name!r}; known: {sorted(caps)}")
            if not isinstance(value, dict) or set(value) - {"free", "vip"}:
                raise ValueError(f'{name} takes {{"free": n, "vip": n}}')
            free, vip = caps[name]
            caps[name] = (int(value.get("free", free)), int(value.get("vip", vip)))
        with self._lock:
            self.caps = caps
            self.mode = data.get("mode", self.mode)
            self.body = data.get("body", self.body)

    def cap(self, name: str, user: User) -> int:
        free, vip = self.caps[name]
        return vip if user.vip else free

    def admit(self, name: str, user: User, used: int, fresh: list[bool]) -> tuple[int, bool]:
        """(how many leading items of the batch to write, whether the cap is crossed).

        ``used`` is what the account holds now; ``fresh[i]`` whether item i takes room.
        """
        room = self.cap(name, user) - used
        taken = 0
        for index, takes_room in enumerate(fresh):
            if takes_room:
                if taken >= room:
                    return (index if self.mode == "partial" else 0), True
                taken += 1
        return len(fresh), False

    def refusal(self, name: str, user: User) -> Response:
        """Trakt's 420: empty by default, or a small JSON body; no limit headers."""
        if self.body == "empty":
            return error_response(420)
        return error_response(
            420,
            "account_limit_exceeded",
            f"this account's {name} limit ({self.cap(name, user)}) is reached",
        )

    def settings_limits(self, user: User) -> dict[str, Any]:
        """``/users/settings`` ``limits``: no ratings or history entry, as at 586224b."""
        favorites = {"item_count": self.cap("favorites", user)}
        return {
            "list": {"count": self.cap("lists", user), "item_count": self.cap("list_items", user)},
            "watchlist": {"item_count": self.cap("watchlist", user)},
            "favorites": favorites,
            "recommendations": dict(favorites),  # the 2023 name of favorites (CONTRACT 6.1)
        }

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            caps = {name: {"free": free, "vip": vip} for name, (free, vip) in self.caps.items()}
            return {**caps, "mode": self.mode, "body": self.body}

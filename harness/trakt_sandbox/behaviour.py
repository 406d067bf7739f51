"""Switches for the ways Trakt's answers vary, set through ``/_sandbox/behaviour``.

``PUT /_sandbox/behaviour`` takes any subset of the keys below and answers the whole
behaviour; ``GET`` reads it; ``POST /_sandbox/reset`` restores the defaults (first value
of each list):

* ``not_found``: ``echo`` | ``no_ids`` | ``empty`` | ``nested`` | ``random``: the shape of
  the entries of ``not_found`` in sync write answers (``not_found.py``, CONTRACT 6.3).
* ``firewall``: ``off`` | ``block-all``: with ``block-all`` every API and auth call gets
  Cloudflare's HTML 403 block page, valid headers or not (CONTRACT 2, #939;
  ``cloudflare.py``). Faults still come first.
* ``oauth``: ``strict`` | ``lenient``: the auth host's ``/oauth/token``, ``/oauth/revoke``
  and ``/oauth/device/*`` take JSON bodies only and refuse HTTP Basic client auth
  (CONTRACT 4.2, checklist 3); ``lenient`` also takes forms and Basic (``oauth.py``).
* ``refresh_error``: ``json`` | ``empty`` | ``legacy-401``: how a refresh with a dead or
  unknown refresh token fails: 400 ``invalid_grant`` JSON, 400 with an empty body
  (#888), or the Doorkeeper 401 of before 2026 (CONTRACT 4.4).
* ``app_limit``: ``refuse`` | ``revoke``: what authorizing one community app too many
  does (``app_policy.py``, CONTRACT 4.1).
* ``seed`` (int, default 0): makes ``random`` reproducible. The n-th write answer after
  the behaviour was last PUT (or reset) draws its shapes from ``(seed, n)``.

Setting the behaviour never touches users, tokens or lists.
"""

from __future__ import annotations

import random
import threading
from typing import Any

CHOICES: dict[str, tuple[str, ...]] = {
    "not_found": ("echo", "no_ids", "empty", "nested", "random"),
    "firewall": ("off", "block-all"),
    "oauth": ("strict", "lenient"),
    "refresh_error": ("json", "empty", "legacy-401"),
    "app_limit": ("refuse", "revoke"),
}
DEFAULTS: dict[str, Any] = {name: values[0] for name, values in CHOICES.items()} | {"seed": 0}


class Behaviour:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.values: dict[str, Any] = dict(DEFAULTS)
            self._answers = 0

    def configure(self, changes: dict[str, Any]) -> None:
        """Apply a PUT: every key must be known and every value allowed, or nothing changes."""
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown behaviour keys: {sorted(unknown)}")
        for name, value in changes.items():
            if name == "seed":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError("seed must be an integer")
            elif value not in CHOICES[name]:
                raise ValueError(f"{name} must be one of {list(CHOICES[name])}")
        with self._lock:
            self.values.update(changes)
            self._answers = 0

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def next_random(self) -> random.Random:
        """The generator of the next write answer: ``(seed, n)``, n counting from 1."""
        with self._lock:
            self._answers += 1
            return random.Random(f"{self.values['seed']}:{self._answers}")

    def as_json(self) -> dict[str, Any]:
        return dict(self.values)

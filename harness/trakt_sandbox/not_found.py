"""The ``not_found`` object of sync write answers, in the shape the behaviour asks for.

Trakt's official schema types ``not_found`` as the request shape, but real answers have
come back otherwise (CONTRACT 6.3; captures in ``samples/not_found_observed/``):
without ``ids`` (#244), as ``{}`` (#236), and reshaped, with ids as strings, extra
``season: 0, number: 0`` and a rewritten time, or as a nested show structure for an
episode sent under a show (#357). A client that reconciles by the ``added``/``deleted``
counts survives them all; these shapes let tests prove it. The counts are never touched
here. Shapes (``PUT /_sandbox/behaviour {"not_found": ...}``):

* ``echo`` (default): each miss exactly as sent, in the array of the level it failed at.
* ``no_ids``: as sent, without its ``ids``.
* ``empty``: ``{}``.
* ``nested``: a season or episode that was nested under a show comes back as that show
  (ids as strings, no other seasons) holding just the failed branch,
  ``{"ids": {...}, "seasons": [{"number": 1, "episodes": [{"number": 99}]}]}``, under
  ``not_found.seasons`` or ``not_found.episodes``; any other miss comes back reshaped
  (ids as strings, times with seven fraction digits, episodes with ``season``/``number``
  0 when they had none).
* ``random``: one of the four above per entry, and each empty array may be left out,
  drawn from the behaviour's ``seed`` (see ``behaviour.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from harness.trakt_sandbox.clock import parse_moment
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.matching import CATEGORIES, INHERITED, Miss

SHAPES = ("echo", "no_ids", "empty", "nested")


def _without(item: Any, key: str) -> Any:
    return {k: v for k, v in item.items() if k != key} if isinstance(item, dict) else item


def _seven_digits(value: Any) -> Any:
    """``2022-07-09T21:26:48.871Z`` -> ``2022-07-09T21:26:48.8710000Z``, as in #357."""
    moment = parse_moment(value) if isinstance(value, str) else None
    if moment is None:
        return value
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _reshaped(item: Any, category: str) -> Any:
    if not isinstance(item, dict):
        return item
    shaped = dict(item)
    if isinstance(shaped.get("ids"), dict):
        shaped["ids"] = {k: str(v) for k, v in shaped["ids"].items() if v is not None}
    for key in INHERITED:
        if key in shaped:
            shaped[key] = _seven_digits(shaped[key])
    if category == "episodes":
        shaped.setdefault("season", 0)
        shaped.setdefault("number", 0)
    return shaped


def _nested(miss: Miss) -> Any:
    if miss.show is None:
        return _reshaped(miss.item, miss.category)
    show = _reshaped(_without(miss.show, "seasons"), "shows")
    if miss.category == "seasons":
        show["seasons"] = [miss.item]
    else:
        season = _without(miss.season, "episodes")
        show["seasons"] = [{**season, "episodes": [miss.item]}]
    return show


SHAPERS: dict[str, Callable[[Miss], Any]] = {
    "echo": lambda miss: miss.item,
    "no_ids": lambda miss: _without(miss.item, "ids"),
    "empty": lambda miss: {},
    "nested": _nested,
}


def shape_not_found(
    misses: Iterable[Miss], mode: str, rng: random.Random | None = None
) -> dict[str, list[Any]]:
    """The four arrays (``random`` may leave empty ones out)."""
    body: dict[str, list[Any]] = {category: [] for category in CATEGORIES}
    for miss in misses:
        shape = rng.choice(SHAPES) if rng is not None else mode
        body[miss.category].append(SHAPERS[shape](miss))
    if rng is not None:
        for category in CATEGORIES:
            if not body[category] and rng.random() < 0.5:
                del body[category]
    return body


def not_found_body(misses: Iterable[Miss]) -> dict[str, list[Any]]:
    """``not_found`` for one write answer, in the shape the sandbox's behaviour selects."""
    behaviour = sandbox().behaviour
    mode = behaviour["not_found"]
    rng = behaviour.next_random() if mode == "random" else None
    return shape_not_found(misses, mode, rng)

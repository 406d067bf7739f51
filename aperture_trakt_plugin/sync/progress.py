"""How far a long sync has come: the stages a run goes through and how much of each is
done, reported as it goes to whoever watches (the jobs screen's run, a terminal).

A first sync of a heavy user reads a hundred pages from Trakt, merges 100,000 items and
sends hundreds of writes a second apart: minutes with nothing to show for them. The run
calls a ``Progress`` at each page, after the merge and after each batch of writes, and
before each wait for Trakt's write spacing; what the watcher makes of it (a bar, a
line every few seconds) is the watcher's business (``Throttle`` keeps it from flooding a
log). Pure: no Flask, no database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

READING, MERGING, WRITING, WAITING = "reading", "merging", "writing", "waiting"

MSG_READING = "reading Trakt's ratings: page {done} of {total}"
MSG_MERGING = "merged {done} items"
MSG_WRITING = "writes sent to Trakt: {done} of {total}"
MSG_WAITING = "waiting for Trakt's write spacing: {done} of {total} writes sent"
TEXTS = {READING: MSG_READING, MERGING: MSG_MERGING, WRITING: MSG_WRITING, WAITING: MSG_WAITING}


class Progress(Protocol):
    """Told ``stage`` and how much of it is done (``total``: None when unknown)."""

    def __call__(self, stage: str, done: int, total: int | None) -> None: ...


def no_progress(stage: str, done: int, total: int | None) -> None:
    """For runs nobody watches (pushes, tests)."""


def describe(stage: str, done: int, total: int | None) -> str:
    """The line a person reads for a report: "reading Trakt's ratings: page 3 of 40"."""
    return TEXTS[stage].format(done=f"{done:,}", total=f"{total:,}" if total else "?")


class Throttle:
    """Passes a report on when its stage changes, when it completes its stage, or at most
    every ``interval`` seconds otherwise: a log gets a line per stage and a few in
    between, never one per page of a thousand."""

    def __init__(
        self, report: Progress, interval: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.report = report
        self.interval = interval
        self.clock = clock
        self.stage: str | None = None
        self.last = float("-inf")

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = self.clock()
        finished = total is not None and done >= total
        if stage != self.stage or finished or now - self.last >= self.interval:
            self.stage, self.last = stage, now
            self.report(stage, done, total)

"""A run as steps: a sync or a push is a generator that yields ``WriteWait`` when its
next write to Trakt must wait, so whoever drives it decides what the wait is spent on
(sleeping, other users' runs in the carrier, or leaving the rest to a push)."""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import NamedTuple, Protocol, TypeVar, cast

from aperture_trakt_plugin.sync.result import SyncResult

#: A run with more writes to make asks whoever drives it (``WriteWait``) what to do when
#: the next write must wait longer than this (Trakt's one write per second): a job fills
#: the wait with other users' syncs (``carrier``), or, with only other kinds of job
#: queued, leaves the rest in the outbox for a push queued behind them. A shorter wait is
#: slept.
DEFER_OVER = 0.2


class Deferring(Protocol):
    """The side of a run that knows whether its next write is better left to a push
    (``TraktSide.should_defer``)."""

    def should_defer(self) -> bool: ...


class WriteWait(NamedTuple):
    """What a run's steps yield when their next write must wait ``seconds`` (more than
    ``DEFER_OVER``): the driver answers True to go on (the run writes as soon as its
    slot opens, sleeping what is left of the wait) or False to leave the rest of the
    writes to a push (see ``writes.write_trakt``). ``held``: the changes the run keeps in
    memory meanwhile, so a driver holding several runs can bound what it holds."""

    seconds: float
    held: int
    trakt: Deferring


#: A run as steps: yields ``WriteWait``, is sent the answer, returns its result.
Steps = Generator[WriteWait, bool, SyncResult]


_Result = TypeVar("_Result")


def run_steps(steps: Generator[WriteWait, bool, _Result]) -> _Result:
    """Drives a run alone: a wait is left to a push exactly when ``should_defer`` says so
    (other jobs queued, or a wait too long to sleep), otherwise slept through."""
    try:
        wait = next(steps)
        while True:
            wait = steps.send(not wait.trakt.should_defer())
    except StopIteration as done:
        # The generator's return value: typeshed types StopIteration.value as Any.
        return cast(_Result, done.value)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector, paused for the length of a merge.

    A first sync of a heavy user holds several hundred thousand small tuples alive at
    once (Trakt's items, the host's refs and ratings, the plan), none of which is ever
    garbage. Each collection that allocations trigger walks all of them again: for
    100,000 ratings that was over a third of the merge's CPU time. Reference counting
    still frees everything outside a cycle at once; the few cycles made meanwhile wait
    for the collector, which resumes afterwards. Only a pause that turned it off turns
    it back on, so nested or concurrent merges leave it as they found it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

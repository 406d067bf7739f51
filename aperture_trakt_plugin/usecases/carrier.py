"""A job's wait for Trakt's write spacing, filled with other users' queued syncs.

Trakt takes one write per second per user, so a sync with a second batch to send
(``sync.writes.BATCH``) waits about a second after its first POST. A worker that sleeps through
it idles; a push job queued behind the others (what a run did before) costs most of a
sync again: its job, the user's lock, the token, Trakt's marker read before and after,
the outbox written, read back and deleted. Here the job that must wait takes the next
queued syncs of other users off the queue and runs them in the same worker, interleaved.
A run is a generator (``sync.sync_steps``) that pauses where its next write must wait
(``sync.WriteWait``), holding its plan and its user's lock; it is resumed once its slot
is open, having done other users' work meanwhile. Nothing is read back from the
database, and Trakt is read once before and once after each run, as in a run alone;
the rules of a run alone hold unchanged (the conflicts go first, the marker is read after
the last write, ledger, outbox and marker commit together, one run per user).

A paused run is resumed as soon as its write slot opens (between two steps of other
runs), before any new job is taken on: Trakt may change between a run's read of its
ratings and its read of the marker after its last write, unseen (a rating made on the
phone in between would be taken for the run's own), and a run alone that sleeps through
its wait leaves that window as wide, no wider. (Starting new users first and resuming
the paused ones later would end a fleet's syncs no sooner in ``bench/fleet``, and hold
that window open for seconds.)

A run whose wait is longer than a worker may sleep, or a wait with nothing to carry but
other kinds of job queued, goes back to the push-from-the-outbox path (answered as
``sync.run_steps`` answers).

To everyone else a carried job is an RQ job like any other: it leaves the queue
atomically (no worker can take it too), is marked started and entered in the queue's
started registry (so a carrier killed meanwhile leaves it to RQ's abandoned-job cleanup,
which fails it, and a new request for the user queues a follow-up), and is finished or
failed with its run's result. The carrier takes jobs only from the head of the queue and
stops at the first it cannot carry, so other kinds of job keep their turn.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from redis.exceptions import RedisError
from rq.job import Job
from rq.timeouts import JobTimeoutException

from aperture_trakt_plugin import extension, sync
from aperture_trakt_plugin.queueing.claims import Claims

log = logging.getLogger(__name__)

#: Runs one carrier holds at once, its own included, and the changes they may keep in
#: memory together (a first sync of 100,000 ratings holds its whole plan while paused).
MAX_RUNS = 64
MAX_HELD = 200_000
#: Seconds after which a carrier takes no new job, so that it ends well within a job's
#: timeout and its worker goes back to the queue's other work.
CARRY_FOR = 60.0
#: Queued jobs looked at per claim (the head of the queue only).
LOOKAHEAD = 4
#: A carried job's entry in the started registry expires this long after its claim; a
#: carrier still alive by then has finished it (``CARRY_FOR`` plus the last waits).
CLAIM_TTL = int(CARRY_FOR * 2 + 60)


@dataclass(eq=False)
class _Run:
    steps: sync.Steps
    job: Job | None = None  # a carried job; None for the carrier's own run
    answer: bool | None = None  # what to send when it resumes (None: not started)
    held: int = 0


class Carrier:
    """Runs a job's own sync and the queued syncs it takes on, see the module."""

    def __init__(self, job: Job, carried: Callable[[Job], sync.Steps | None]) -> None:
        self.job = job
        self.carried = carried
        host = extension.state().host
        self.claims = Claims(host.redis, host.queue(job.origin), job, CLAIM_TTL)
        self.horizon = time.monotonic() + CARRY_FOR
        self.ready: deque[_Run] = deque()
        self.paused: list[tuple[float, int, _Run]] = []
        self.order = itertools.count()

    def run(self, own: sync.Steps) -> sync.SyncResult:
        """The own run's result (or its error), once every run taken on has ended."""
        outcome: list[Any] = []
        self.ready.append(_Run(own))
        while self.ready or self.paused:
            if self.ready:
                self._step(self.ready.popleft(), outcome)
                continue
            if self.paused and self.paused[0][0] <= time.monotonic():
                self.ready.append(heapq.heappop(self.paused)[2])  # its slot is open
                continue
            taken = self._take_next()
            if taken is not None:
                self.ready.append(taken)
                continue
            due, _, run = heapq.heappop(self.paused)
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # at most max_sleep: ``_step`` pauses no longer wait
            self.ready.append(run)
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        result: sync.SyncResult = outcome[0]
        return result

    # --- one step of one run -------------------------------------------------------------

    def _step(self, run: _Run, outcome: list[Any]) -> None:
        try:
            with sync.collector_paused():
                wait = next(run.steps) if run.answer is None else run.steps.send(run.answer)
        except StopIteration as done:
            self._ended(run, done.value, None, outcome)
            return
        except JobTimeoutException:
            raise  # the carrier's own job ran out of time: RQ fails it, and the claimed
            # jobs with it, once their started-registry entries expire
        except Exception as exc:  # the run recorded it (``jobs._recorded_steps``)
            # What it left in the session (a half-written transaction) must not reach the
            # next run's commit; the paused runs hold nothing there (``sync.run.apply``).
            extension.state().host.db.session.rollback()
            self._ended(run, None, exc, outcome)
            return
        run.held = wait.held
        if wait.seconds <= extension.budgets().max_sleep and (
            len(self.paused) + len(self.ready) > 0 or self._take_into_ready()
        ):
            run.answer = True  # resumed when its slot is open: other users' work meanwhile
            heapq.heappush(self.paused, (time.monotonic() + wait.seconds, next(self.order), run))
            return
        run.answer = not wait.trakt.should_defer()  # as a run alone decides
        self.ready.appendleft(run)

    def _take_into_ready(self) -> bool:
        taken = self._take_next()
        if taken is not None:
            self.ready.append(taken)
        return taken is not None

    def _ended(
        self, run: _Run, result: sync.SyncResult | None, error: Exception | None, outcome: list[Any]
    ) -> None:
        if run.job is None:
            outcome.append(error if error is not None else result)
        elif error is not None:
            self.claims.fail(run.job, error)
        else:
            assert result is not None  # a run that raised nothing returned its result
            self.claims.finish(run.job, asdict(result))

    # --- taking queued jobs on -----------------------------------------------------------

    def _take_next(self) -> _Run | None:
        """The next queued job as a run, if the head of the queue holds one to carry."""
        held = [run for _, _, run in self.paused]
        if (
            time.monotonic() > self.horizon
            or len(held) + len(self.ready) + 1 >= MAX_RUNS
            or sum(run.held for run in held) >= MAX_HELD
        ):
            return None
        try:
            for job in self.claims.head(LOOKAHEAD):
                steps = self.carried(job)
                if steps is None:
                    return None  # not ours to run: it keeps its turn
                if self.claims.claim(job):
                    return _Run(steps, job)
                steps.close()  # a worker took it meanwhile: try the next one
        except RedisError as exc:
            log.warning(
                "could not take queued Trakt syncs on (%s); they run on their own",
                type(exc).__name__,
            )
        return None


def carry(
    own: sync.Steps, job: Job, carried: Callable[[Job], sync.Steps | None]
) -> sync.SyncResult:
    """Runs ``own`` (the running job's user) to its end, filling its waits for Trakt's
    write spacing with queued jobs that ``carried`` turns into steps (None: not one to
    carry, and the carrier stops looking). In the job's app context."""
    return Carrier(job, carried).run(own)

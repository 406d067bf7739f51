"""Running a failed Trakt job again later, instead of sleeping in a worker or giving up.

A 429 says exactly when Trakt will listen again (``Retry-After``, up to 2,852 s seen in
the wild); a 5xx, a Cloudflare 52x page, a timeout or a refused connection says "soon,
probably". Either way the job ends now, freeing its worker, and a copy is put in
rq-scheduler for later: after ``Retry-After`` plus a little jitter (so a server's users
do not all return in the same second), or after the next of ``APERTURE_TRAKT_RETRY_DELAYS``
(±25 %). Passing faults are retried a bounded number of times; rate limits are not
counted apart, with a generous cap of their own (``APERTURE_TRAKT_RATE_LIMIT_RETRIES``):
waiting one out usually works, but an answer that says 429 for ever must not keep a job
alive for ever, and every wait is clamped (``APERTURE_TRAKT_WAIT_RANGE``). Cloudflare's
firewall 403 is a passing fault too, but one that lasts: it waits at least
:data:`FIREWALL_PAUSE`. Permanent faults (401 after a refresh, Trakt's own 403, 420,
423, 426) are never retried here: a person has to act, and the message says who.

The copy has a fixed id per job (``…-retry``), so a user has at most one waiting retry
of each kind, which disconnecting cancels and the status view reads.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq_scheduler import Scheduler

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.trakt.errors import FirewallBlocked, RateLimited, TraktError
from aperture_trakt_plugin.trakt.rate_limits import NO_RETRY_AFTER, bounded_wait

log = logging.getLogger(__name__)

#: How a job's error message announces its waiting retry; the status view removes the
#: promise when the retry has gone (a worker killed mid-job, Redis emptied).
PROMISE = " (tries again at "
#: A failed job's error as its user and admins read it: with the waiting retry's time,
#: or, with its retries used up, what happens instead.
MSG_TRIES_AGAIN = "{error}" + PROMISE + "{when} UTC)"
MSG_NEXT_SYNC_TRIES_AGAIN = "{error}; the next scheduled sync tries again"
RETRY_SUFFIX = "-retry"
ATTEMPT = "attempt"  # job meta: passing faults met so far by this job and its retries
RATE_ATTEMPT = "rate_attempt"  # job meta: 429s met so far (counted apart, capped apart)
RATE_LIMITED = "rate_limited"  # job meta: waits out a 429, so status says "rate limit"
#: The shortest wait (before the ±25 %) after Cloudflare's firewall blocked a call. Blocks
#: are not 30-second hiccups: reported ones lasted from minutes to days, on whole networks
#: (CONTRACT 10), and hammering a firewall that has just blocked us is how a block gets
#: longer. A quarter of an hour keeps a user's four retries (the default delays) spread
#: over more than an hour, after which the next scheduled run tries again.
FIREWALL_PAUSE = 900.0


def retry_id(job_id: str) -> str:
    base = job_id.removesuffix(RETRY_SUFFIX).removesuffix("-next")
    return base + RETRY_SUFFIX


def delay_for(error: TraktError, attempt: int, rate_attempt: int = 0) -> float | None:
    """Seconds to wait before running again, or None when running again cannot help.
    ``attempt``: passing faults met so far; ``rate_attempt``: 429s met so far."""
    if isinstance(error, RateLimited):
        if rate_attempt >= int(current_app.config["APERTURE_TRAKT_RATE_LIMIT_RETRIES"]):
            return None
        wait = bounded_wait(
            error.retry_after if error.retry_after is not None else NO_RETRY_AFTER,
            extension.wait_range(),
        )
        return wait + random.uniform(1.0, 1.0 + min(wait * 0.1, 30.0))
    if not error.retryable:
        return None
    delays = current_app.config["APERTURE_TRAKT_RETRY_DELAYS"]
    if attempt >= len(delays):
        return None
    delay = float(delays[attempt])
    if isinstance(error, FirewallBlocked):
        delay = max(delay, FIREWALL_PAUSE)
    return delay * random.uniform(0.75, 1.25)


def _scheduler(queue_name: str) -> Scheduler:
    return Scheduler(queue_name=queue_name, connection=extension.state().host.redis)


def reschedule(error: TraktError, job: Job | None = None) -> datetime | None:
    """Schedules the job again if that can help; returns when, or None (not in a job, a
    permanent fault, retries used up, or Redis unreachable). ``job``: the one whose run
    failed, when it is not the running job (a run carried by another job, ``carrier``)."""
    job = job or get_current_job()
    if job is None:
        return None
    attempt = int(job.meta.get(ATTEMPT, 0))
    rate_attempt = int(job.meta.get(RATE_ATTEMPT, 0))
    delay = delay_for(error, attempt, rate_attempt)
    if delay is None:
        return None
    rate_limited = isinstance(error, RateLimited)
    assert job.func_name is not None  # the plugin queues functions by name, nothing else
    return run_later(
        job.func_name,
        job.id,
        job.args,
        job.origin,
        delay,
        str(error),
        rate_limited=rate_limited,
        attempt=attempt + (not rate_limited),
        rate_attempt=rate_attempt + rate_limited,
        description=_description(job, error),
        kwargs=job.kwargs,
    )


def run_later(
    func: str,
    job_id: str,
    args: Sequence[Any],
    queue: str,
    delay: float,
    reason: str,
    *,
    rate_limited: bool,
    attempt: int = 0,
    rate_attempt: int = 0,
    description: str | None = None,
    kwargs: dict[str, Any] | None = None,
) -> datetime | None:
    """Puts a job in rq-scheduler under its fixed retry id (replacing a waiting one);
    returns when it runs, or None when Redis is unreachable (the next scheduled sync
    picks the work up)."""
    when = datetime.now(UTC) + timedelta(seconds=delay)
    new_id = retry_id(job_id)
    try:
        scheduler = _scheduler(queue)
        scheduler.cancel(new_id)
        scheduler.enqueue_at(
            when,
            func,
            *args,
            **(kwargs or {}),
            job_id=new_id,
            queue_name=queue,
            job_description=description or reason,
            job_result_ttl=3600,
            meta={
                ATTEMPT: attempt,
                RATE_ATTEMPT: rate_attempt,
                "reason": reason,
                RATE_LIMITED: rate_limited,
            },
        )
    except RedisError as exc:
        log.warning(
            "could not schedule %s (%s); the next scheduled sync will pick the work up",
            new_id,
            type(exc).__name__,
        )
        return None
    log.info("%s: %s; runs at %s", new_id, reason, when.isoformat(timespec="seconds"))
    return when


def _description(job: Job, error: TraktError) -> str:
    named = job.description or job.func_name
    assert named is not None  # the plugin queues functions by name, nothing else
    base = named.split(" (retry:")[0]
    return f"{base} (retry: {error})"


def scheduled_at(job_ids: list[str]) -> dict[str, datetime]:
    """When each of these retries is due, for those that are waiting."""
    redis = extension.state().host.redis
    pipe = redis.pipeline()
    for job_id in job_ids:
        pipe.zscore(Scheduler.scheduled_jobs_key, retry_id(job_id))
    found = {}
    for job_id, score in zip(job_ids, pipe.execute(), strict=True):
        if score is not None:
            found[retry_id(job_id)] = datetime.fromtimestamp(score, UTC)
    return found


def cancel(job_ids: list[str]) -> int:
    """Drops the waiting retries of these jobs (disconnect, user deleted)."""
    cancelled = 0
    scheduler = _scheduler(current_app.config["APERTURE_TRAKT_QUEUE"])
    for job_id in {retry_id(j) for j in job_ids}:
        if job_id in scheduler:
            scheduler.cancel(job_id)
            cancelled += 1
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(job_id, connection=scheduler.connection).delete()
    return cancelled

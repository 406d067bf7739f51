"""Queued RQ jobs taken and ended by hand, as a worker would, for the carrier
(``usecases.carrier``), which runs other users' queued syncs inside one job.

RQ has no public call for "this process runs that queued job": the steps below mirror
what ``rq.Worker`` does around a job it dequeued (mark it started and register it;
on the end, set its status, store its ``Result``, move it to the finished or failed
registry) as rq 2.5 through 3.0 do it. Those are the versions tested: the lowest-versions
run installs rq 2.5 (``make test-lowest``) and the suite the newest the bounds allow.
Raising rq's upper bound means reading ``Worker.prepare_job_execution``,
``handle_job_success`` and ``handle_job_failure`` of the new release against this class.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from typing import Any, cast

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.utils import now, utcformat

log = logging.getLogger(__name__)

# LREM, then the job marked started and registered, in one step: a carrier killed in
# between could otherwise leave a job that is in no queue but still says "queued", which
# would make every later request for the user look already queued.
_CLAIM = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'status', ARGV[2], 'started_at', ARGV[3], 'worker_name', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
return 1
"""


class Claims:
    """Jobs of one queue claimed by the running job ``owner``. A claimed job's entry in
    the started registry expires ``ttl`` seconds after its claim, so a claimer killed
    meanwhile leaves it to RQ's abandoned-job cleanup, which fails it."""

    def __init__(self, redis: Redis, queue: Queue, owner: Job, ttl: int) -> None:
        self.redis = redis
        self.queue = queue
        self.owner = owner
        self.ttl = ttl
        self.started = StartedJobRegistry(queue=queue)
        self.claim_script = redis.register_script(_CLAIM)

    def head(self, count: int) -> Iterator[Job]:
        """The first ``count`` jobs of the queue that still exist (RedisError: the caller's)."""
        # redis-py types its sync client's answers as ``Awaitable[...] | ...``.
        for raw in cast(list[bytes | str], self.redis.lrange(self.queue.key, 0, count - 1)):
            job_id = raw.decode() if isinstance(raw, bytes) else raw
            try:
                yield Job.fetch(job_id, connection=self.redis)
            except NoSuchJobError:
                continue  # deleted meanwhile (a cancel): RQ skips it too

    def claim(self, job: Job) -> bool:
        """Takes ``job`` off the queue as started by the owner's worker (False: a worker
        took it meanwhile)."""
        job.started_at = now()
        job.worker_name = self.owner.worker_name
        return bool(
            self.claim_script(
                keys=[self.queue.key, job.key, self.started.key],
                args=[
                    job.id,
                    JobStatus.STARTED.value,
                    utcformat(job.started_at),
                    job.worker_name or "",
                    time.time() + self.ttl,
                    self._entry(job),
                ],
            )
        )

    def finish(self, job: Job, value: Any) -> None:
        ttl = job.get_result_ttl(500)
        try:
            with self.redis.pipeline() as pipe:
                self._ended_at(job, pipe)
                job.set_status(JobStatus.FINISHED, pipeline=pipe)
                Result.create(
                    job,
                    Result.Type.SUCCESSFUL,
                    ttl=ttl,
                    return_value=value,
                    worker_name=job.worker_name or "",
                    pipeline=pipe,
                )
                job.finished_job_registry.add(job, ttl, pipe)
                job.cleanup(ttl, pipeline=pipe, remove_from_queue=False)
                pipe.execute()
        except RedisError as exc:
            log.warning("could not record the end of %s (%s)", job.id, type(exc).__name__)

    def fail(self, job: Job, error: BaseException) -> None:
        exc_string = "".join(traceback.format_exception(error))
        try:
            with self.redis.pipeline() as pipe:
                self._ended_at(job, pipe)
                job.set_status(JobStatus.FAILED, pipeline=pipe)
                job.failed_job_registry.add(
                    job, ttl=job.failure_ttl, exc_string=exc_string, pipeline=pipe
                )
                Result.create_failure(
                    job,
                    job.failure_ttl,
                    exc_string=exc_string,
                    worker_name=job.worker_name or "",
                    pipeline=pipe,
                )
                pipe.execute()
        except RedisError as exc:
            log.warning("could not record the failure of %s (%s)", job.id, type(exc).__name__)

    def _entry(self, job: Job) -> str:
        return f"{job.id}:carried-by-{self.owner.id}"

    def _ended_at(self, job: Job, pipe: Any) -> None:
        job.ended_at = now()
        pipe.hset(job.key, "ended_at", utcformat(job.ended_at))
        pipe.zrem(self.started.key, self._entry(job))

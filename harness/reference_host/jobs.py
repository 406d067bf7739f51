"""The run log behind Admin → Jobs: runs, their log lines and progress, and "Run now".

A run row is written through the session the job itself uses and committed at each log
line, so the jobs screen (another process) shows progress while the job is still going.
Using one session is deliberate: on SQLite a second writing connection from the same
process would wait for the job's own open transaction and deadlock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from aperture_trakt_plugin.host import JobDefinition, JobSchedule
from harness.reference_host.db import db, utcnow
from harness.reference_host.models import JobRun, JobScheduleRow

log = logging.getLogger(__name__)
PROGRESS_COMMIT_INTERVAL = 0.5


@dataclass
class RunLog:
    """The object a job gets from ``job_context``; see ``JobRunContext`` in the contract.

    ``log`` and ``progress`` commit the current session, so call them where the job's
    own work is consistent.
    """

    run_id: int
    _last_progress_commit: float = field(default=0.0, repr=False)

    def _run(self) -> JobRun:
        run = db.session.get(JobRun, self.run_id)
        if run is None:
            raise LookupError(f"job run {self.run_id} vanished")
        return run

    def log(self, message: str) -> None:
        run = self._run()
        stamp = utcnow().strftime("%Y-%m-%d %H:%M:%S")
        run.log = f"{run.log or ''}[{stamp}Z] {message}\n"
        db.session.commit()

    def progress(self, done: int, total: int | None = None) -> None:
        run = self._run()
        run.progress_done = done
        if total is not None:
            run.progress_total = total
        now = time.monotonic()
        finished = total is not None and done >= total
        if finished or now - self._last_progress_commit >= PROGRESS_COMMIT_INTERVAL:
            db.session.commit()
            self._last_progress_commit = now


def new_run(name: str, status: str = "queued") -> JobRun:
    run = JobRun(name=name, status=status, log="")
    db.session.add(run)
    db.session.commit()
    return run


@contextmanager
def job_context(name: str, run_id: int | None = None) -> Iterator[RunLog]:
    if run_id is None:
        run = new_run(name, status="running")
    else:
        run = db.session.get(JobRun, run_id)
        if run is None:
            run = JobRun(id=run_id, name=name, log="")
            db.session.add(run)
    run.status, run.started_at = "running", utcnow()
    db.session.commit()
    context = RunLog(run.id)
    try:
        yield context
    except BaseException as exc:
        db.session.rollback()
        run = context._run()
        run.status, run.finished_at = "failed", utcnow()
        run.error = f"{type(exc).__name__}: {exc}"
        run.log = f"{run.log or ''}[{run.finished_at:%Y-%m-%d %H:%M:%S}Z] failed: {run.error}\n"
        db.session.commit()
        raise
    else:
        run = context._run()
        run.status, run.finished_at = "succeeded", utcnow()
        db.session.commit()


def schedules() -> dict[str, JobSchedule]:
    return {
        row.name: JobSchedule(name=row.name, cron=row.cron, enabled=row.enabled)
        for row in db.session.scalars(select(JobScheduleRow))
    }


def save_schedule(name: str, cron: str | None, enabled: bool) -> JobSchedule:
    row = db.session.get(JobScheduleRow, name) or JobScheduleRow(name=name)
    row.cron, row.enabled = cron, enabled
    db.session.add(row)
    db.session.commit()
    return JobSchedule(name=name, cron=cron, enabled=enabled)


def enqueue_now(definition: JobDefinition) -> JobRun:
    """Opens a queued run and hands it to the worker; a Redis failure fails the run."""
    run = new_run(definition.name)
    host = current_app.extensions["aperture_host"]
    try:
        host.queue(definition.queue).enqueue(
            definition.func,
            run_id=run.id,
            job_timeout=definition.timeout,
            description=f"{definition.name} (run {run.id})",
        )
    except Exception as exc:
        run.status, run.finished_at = "failed", utcnow()
        run.error = f"could not enqueue: {type(exc).__name__}: {exc}"
        db.session.commit()
        log.warning("could not enqueue job %s: %s", definition.name, exc)
        raise
    return run


def recent_runs(limit: int = 30) -> list[JobRun]:
    return list(db.session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))

"""The RQ worker the host runs its (and its plugins') jobs in.

It is a ``SimpleWorker``: jobs run in the worker process itself, each inside a fresh app
context. Not forking means the app, the plugins and the database engine are set up once
rather than per job, and no connection pool is ever shared between a parent and a forked
child (the classic corrupted-connection bug). The cost, a job crash taking the worker
down, is acceptable for a reference host; timeouts still work through SIGALRM.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from rq import Queue, SimpleWorker
from rq.job import Job

DEFAULT_QUEUES = ("trakt", "default")


class AppWorker(SimpleWorker):
    """Runs each job inside its own app context, so jobs use ``db.session`` and
    ``current_app`` as views do, and leave no session state to the next job."""

    def __init__(self, *args: Any, app: Flask | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app if app is not None else current_app._get_current_object()

    def perform_job(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> bool:
        with self.app.app_context():
            return super().perform_job(job, queue, *args, **kwargs)


def run_worker(app: Flask, queue_names: tuple[str, ...], burst: bool) -> bool:
    host = app.extensions["aperture_host"]
    queues = [host.queue(name) for name in queue_names or DEFAULT_QUEUES]
    worker = AppWorker(queues, connection=host.redis, app=app)
    return worker.work(burst=burst, logging_level="INFO")


def run_scheduler(app: Flask, interval: int, burst: bool) -> None:
    """rq-scheduler's ``Scheduler`` on this app's Redis: the stock ``rqscheduler`` command
    would need the URL repeated, this one reads it from the same config as everything."""
    from rq_scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    scheduler = Scheduler(connection=app.extensions["aperture_host"].redis, interval=interval)
    scheduler.run(burst=burst)

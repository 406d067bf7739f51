"""Whether this server's Trakt integration can do its work, part by part: what
``flask trakt doctor`` prints and the health panel on Admin → Jobs shows.

Each part that can be missing while everything looks fine is checked at its source:
the jobs screen's "next run" is computed from the cron text, so it looked right with no
rq-scheduler at all; a rating waits in the outbox for a worker that may not exist. So
the scheduler's own heartbeat, the workers registered on the plugin's queue, the
entries rq-scheduler holds (with the next run it will act on), the plugin's migration
against its head, and (when asked: it costs two calls) Trakt's verdict on the app's
credentials.

The worst part decides: ``broken`` (exit 2) when ratings cannot reach Trakt at all,
``degraded`` (exit 1) when something works only partly or will stop working, so a
monitoring check can run the command as it is. Every text here is in
docs/troubleshooting.md with its cause and fix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import current_app
from redis.exceptions import RedisError
from rq import Worker
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy.exc import SQLAlchemyError

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts.credentials import check_credentials
from aperture_trakt_plugin.queueing import scheduling
from aperture_trakt_plugin.storage import migrate

log = logging.getLogger(__name__)

OK, WARN, FAIL = "ok", "warn", "fail"
#: Overall states, worst last, and the exit status of each.
HEALTHY, DEGRADED, BROKEN = "healthy", "degraded", "broken"
EXIT_STATUS = {HEALTHY: 0, DEGRADED: 1, BROKEN: 2}
#: rq-scheduler's key for each running scheduler: refreshed on every poll, it expires
#: ``interval + 10`` s after the last one, and holds ``death`` once it stopped cleanly.
SCHEDULER_KEYS = "rq:scheduler_instance:*"
#: A worker whose last heartbeat is older than this is taken for dead (RQ's own default
#: ``worker_ttl`` is 420 s; a busy worker beats at least that often).
WORKER_SILENT = timedelta(seconds=480)
#: A job waiting longer than this says the workers do not keep up (or do not run ours).
WAITING_TOO_LONG = timedelta(minutes=10)
#: A scheduled run this far behind its time says no scheduler acts on it.
OVERDUE = timedelta(minutes=5)
FAILED_WINDOW = timedelta(days=1)

MSG_REDIS_OK = "Redis answers at {url} (maxmemory-policy {policy})"
MSG_REDIS_DOWN = "Redis does not answer at {url} ({reason})"
MSG_REDIS_DOWN_FIX = (
    "start Redis, or point the host's Redis setting at where it runs; ratings made "
    "meanwhile wait in the database"
)
MSG_REDIS_EVICTS = (
    "Redis evicts keys when full (maxmemory-policy {policy}): queued jobs, schedules and "
    "rate budgets can vanish"
)
MSG_REDIS_EVICTS_FIX = "set maxmemory-policy noeviction in redis.conf (CONFIG SET to try it)"
MSG_POLICY_UNKNOWN = "unknown (CONFIG GET refused)"
MSG_NOT_CHECKED = "not checked: Redis does not answer"
MSG_WORKERS_OK = "{count} worker(s) listen on the '{queue}' queue"
MSG_NO_WORKER = "No worker listens on the '{queue}' queue: no rating goes to Trakt"
MSG_NO_WORKER_FIX = (
    "start a worker on the '{queue}' queue (the host's worker command, or "
    "`rq worker {queue}` with the app's settings)"
)
MSG_SCHEDULER_OK = "rq-scheduler is running ({count} instance(s))"
MSG_NO_SCHEDULER = (
    "rq-scheduler is not running: no scheduled sync, no discovery refresh, no retry "
    "(pushes of new ratings still go)"
)
MSG_NO_SCHEDULER_FIX = "start rq-scheduler on the same Redis (the host's scheduler command)"
MSG_SCHEDULE_OK = "{name}: next run {next_run:%Y-%m-%d %H:%M} UTC ({cron})"
MSG_SCHEDULE_OFF = "{name}: switched off on Admin → Jobs"
MSG_SCHEDULE_MISSING = "{name}: rq-scheduler holds no entry for it: it will not run"
MSG_SCHEDULE_MISSING_FIX = (
    "restart one of the server's processes (or save the schedule on Admin → Jobs): "
    "it re-creates the entry"
)
MSG_SCHEDULE_OVERDUE = (
    "{name}: its run was due at {next_run:%Y-%m-%d %H:%M} UTC and has not been queued"
)
MSG_SCHEDULE_OVERDUE_FIX = "check that rq-scheduler runs on the same Redis as the server"
MSG_MIGRATIONS_OK = "the plugin's tables are at {head}"
MSG_MIGRATIONS_BEHIND = "the plugin's tables are at {current}, not at {head}"
MSG_MIGRATIONS_FIX = "run `flask trakt db upgrade`"
MSG_MIGRATIONS_UNREADABLE = "the plugin's migration state cannot be read ({reason})"
MSG_NO_CREDENTIALS = "no Trakt app is set up: nobody can connect"
MSG_NO_CREDENTIALS_FIX = (
    "enter the Client ID and Secret under Admin → Settings → Setup → Integrations"
)
MSG_CREDENTIALS_OK = "Trakt accepts the app's credentials"
MSG_CREDENTIALS_SET = "the app's credentials are set (not checked with Trakt here)"
MSG_CREDENTIALS_FIX = "check the Client ID and Secret under Admin → Settings → Setup → Integrations"
MSG_CREDENTIALS_UNCHECKED_FIX = "try again later; see the message for Trakt's side"
MSG_QUEUE_OK = "{depth} job(s) waiting on '{queue}'{oldest}"
MSG_QUEUE_OLDEST = ", the oldest for {minutes:.0f} min"
MSG_QUEUE_SLOW = "{depth} job(s) waiting on '{queue}', the oldest for {minutes:.0f} min"
MSG_QUEUE_SLOW_FIX = "start more workers on '{queue}', or check that they run"
MSG_FAILED_NONE = "no failed job in the last day"
MSG_FAILED_SOME = "{count} job(s) failed in the last day; the latest: {error}"
MSG_FAILED_FIX = "see the job's log on Admin → Jobs (or `rq info`)"


@dataclass(frozen=True)
class Check:
    part: str
    status: str
    message: str
    fix: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    checks: list[Check]

    @property
    def state(self) -> str:
        statuses = {check.status for check in self.checks}
        return BROKEN if FAIL in statuses else DEGRADED if WARN in statuses else HEALTHY

    @property
    def tables_ready(self) -> bool:
        """The plugin's tables are at their head: what else reads them may."""
        return any(c.part == "migrations" and c.status == OK for c in self.checks)

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.state]

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "checks": [asdict(check) for check in self.checks]}


def check(live: bool = False, now: datetime | None = None) -> Health:
    """Every part, in order. ``live``: ask Trakt about the app's credentials (the CLI
    does; the jobs screen shows the last verdict the server recorded instead)."""
    now = now or datetime.now(UTC)
    checks = list(_database_parts(live))
    redis_parts = (_workers, _scheduler, _schedules, _queue, _failed)
    try:
        checks.insert(0, _redis())
    except RedisError as exc:
        checks.insert(0, _redis_down(exc))
        checks += [Check(part.__name__.strip("_"), FAIL, MSG_NOT_CHECKED) for part in redis_parts]
        return Health(checks)
    for part in redis_parts:
        try:
            checks += part(now)
        except RedisError as exc:
            checks.append(Check(part.__name__.strip("_"), FAIL, _redis_down(exc).message))
    return Health(checks)


def _redis_url() -> str:
    kwargs = extension.state().host.redis.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def _redis_down(exc: Exception) -> Check:
    return Check(
        "redis",
        FAIL,
        MSG_REDIS_DOWN.format(url=_redis_url(), reason=type(exc).__name__),
        MSG_REDIS_DOWN_FIX,
    )


def _redis() -> Check:
    redis = extension.state().host.redis
    redis.ping()
    try:
        # redis-py types its sync client's answers as ``Awaitable[...] | ...``.
        answer = cast(dict[str, Any], redis.config_get("maxmemory-policy"))
        policy = str(answer.get("maxmemory-policy", ""))
    except RedisError:  # managed Redis often refuses CONFIG: not a fault of the server
        policy = ""
    facts = {"maxmemory_policy": policy or None}
    if policy and policy != "noeviction":
        return Check(
            "redis", WARN, MSG_REDIS_EVICTS.format(policy=policy), MSG_REDIS_EVICTS_FIX, facts
        )
    shown = policy or MSG_POLICY_UNKNOWN
    return Check("redis", OK, MSG_REDIS_OK.format(url=_redis_url(), policy=shown), facts=facts)


def _queue_name() -> str:
    return str(current_app.config["APERTURE_TRAKT_QUEUE"])


def _workers(now: datetime) -> Iterator[Check]:
    host, name = extension.state().host, _queue_name()
    alive = [
        worker
        for worker in Worker.all(connection=host.redis, queue=host.queue(name))
        if worker.last_heartbeat is None or now - _utc(worker.last_heartbeat) <= WORKER_SILENT
    ]
    facts = {"queue": name, "workers": [worker.name for worker in alive]}
    if not alive:
        yield Check(
            "workers",
            FAIL,
            MSG_NO_WORKER.format(queue=name),
            MSG_NO_WORKER_FIX.format(queue=name),
            facts,
        )
        return
    yield Check("workers", OK, MSG_WORKERS_OK.format(count=len(alive), queue=name), facts=facts)


def _scheduler(_now: datetime) -> Iterator[Check]:
    redis = extension.state().host.redis
    running = [key for key in redis.scan_iter(SCHEDULER_KEYS) if not redis.hexists(key, "death")]
    if not running:
        yield Check("scheduler", WARN, MSG_NO_SCHEDULER, MSG_NO_SCHEDULER_FIX)
        return
    yield Check(
        "scheduler",
        OK,
        MSG_SCHEDULER_OK.format(count=len(running)),
        facts={"instances": len(running)},
    )


def _schedules(now: datetime) -> Iterator[Check]:
    """Each job against rq-scheduler's own entry and the time it will act on."""
    from rq_scheduler import Scheduler

    host = extension.state().host
    entries = {
        job.id: (job, _utc(at))
        for job, at in Scheduler(connection=host.redis).get_jobs(with_times=True)
    }
    try:
        saved = host.job_schedules()
    except SQLAlchemyError:
        saved = {}
    for job in scheduling.definitions():
        cron, enabled = scheduling.saved_schedule(job, saved)
        facts: dict[str, Any] = {"job": job.name, "cron": cron, "enabled": enabled}
        if not enabled or not cron:
            yield Check("schedules", OK, MSG_SCHEDULE_OFF.format(name=job.name), facts=facts)
            continue
        entry = entries.get(scheduling.SCHEDULE_ID.format(name=job.name))
        if entry is None:
            yield Check(
                "schedules",
                WARN,
                MSG_SCHEDULE_MISSING.format(name=job.name),
                MSG_SCHEDULE_MISSING_FIX,
                facts,
            )
            continue
        next_run = entry[1]
        facts["next_run"] = next_run.isoformat()
        if now - next_run > OVERDUE:
            yield Check(
                "schedules",
                WARN,
                MSG_SCHEDULE_OVERDUE.format(name=job.name, next_run=next_run),
                MSG_SCHEDULE_OVERDUE_FIX,
                facts,
            )
            continue
        message = MSG_SCHEDULE_OK.format(name=job.name, next_run=next_run, cron=cron)
        yield Check("schedules", OK, message, facts=facts)


def _queue(now: datetime) -> Iterator[Check]:
    host, name = extension.state().host, _queue_name()
    queue = host.queue(name)
    depth = queue.count
    oldest_id = queue.get_job_ids(0, 0)
    oldest = Job.fetch(oldest_id[0], connection=host.redis) if oldest_id else None
    waited = now - _utc(oldest.enqueued_at) if oldest and oldest.enqueued_at else None
    facts = {
        "queue": name,
        "depth": depth,
        "oldest_waiting_s": round(waited.total_seconds()) if waited else None,
    }
    minutes = waited.total_seconds() / 60 if waited else 0.0
    if waited and waited > WAITING_TOO_LONG:
        yield Check(
            "queue",
            WARN,
            MSG_QUEUE_SLOW.format(depth=depth, queue=name, minutes=minutes),
            MSG_QUEUE_SLOW_FIX.format(queue=name),
            facts,
        )
        return
    shown = MSG_QUEUE_OLDEST.format(minutes=minutes) if waited else ""
    yield Check(
        "queue", OK, MSG_QUEUE_OK.format(depth=depth, queue=name, oldest=shown), facts=facts
    )


def _failed(now: datetime) -> Iterator[Check]:
    host = extension.state().host
    registry = FailedJobRegistry(queue=host.queue(_queue_name()))
    recent = [
        job
        for job in Job.fetch_many(registry.get_job_ids(), connection=host.redis)
        if job is not None
        and job.ended_at is not None
        and now - _utc(job.ended_at) <= FAILED_WINDOW
    ]
    if not recent:
        yield Check("failed", OK, MSG_FAILED_NONE, facts={"count": 0})
        return
    # Every job in ``recent`` has ended (the filter above).
    latest = max(recent, key=lambda job: _utc(cast(datetime, job.ended_at)))
    error = _last_line(latest)
    yield Check(
        "failed",
        WARN,
        MSG_FAILED_SOME.format(count=len(recent), error=error),
        MSG_FAILED_FIX,
        {"count": len(recent), "latest": latest.id},
    )


def _last_line(job: Job) -> str:
    """The last line of a failed job's traceback (its exception), kept short."""
    result = job.latest_result()
    text = (getattr(result, "exc_string", None) or job.exc_info or "").strip()
    return (text.splitlines() or ["?"])[-1][:200]


def _database_parts(live: bool) -> Iterator[Check]:
    engine = extension.state().host.db.engine
    try:
        current, head = migrate.current(engine), migrate.head()
    except SQLAlchemyError as exc:
        yield Check(
            "migrations",
            FAIL,
            MSG_MIGRATIONS_UNREADABLE.format(reason=type(exc).__name__),
            MSG_MIGRATIONS_FIX,
        )
        return
    facts = {"current": current, "head": head}
    if current != head:
        yield Check(
            "migrations",
            FAIL,
            MSG_MIGRATIONS_BEHIND.format(current=current or "base", head=head),
            MSG_MIGRATIONS_FIX,
            facts,
        )
        return
    yield Check("migrations", OK, MSG_MIGRATIONS_OK.format(head=head), facts=facts)
    yield _credentials(live)


def _credentials(live: bool) -> Check:
    state = extension.state()
    values = state.settings.values()
    if not values["client_id"] or not values["client_secret"]:
        return Check("credentials", FAIL, MSG_NO_CREDENTIALS, MSG_NO_CREDENTIALS_FIX)
    problem = state.settings.credentials_problem()
    if not live:
        if problem:
            return Check("credentials", FAIL, problem, MSG_CREDENTIALS_FIX)
        return Check("credentials", OK, MSG_CREDENTIALS_SET)
    verdict = check_credentials(
        values["client_id"],
        values["client_secret"],
        extension.effective_redirect_uri(),
        extension.endpoints(),
    )
    if verdict.ok:
        return Check("credentials", OK, MSG_CREDENTIALS_OK)
    if not verdict.reachable:
        return Check("credentials", WARN, verdict.message, MSG_CREDENTIALS_UNCHECKED_FIX)
    return Check("credentials", FAIL, verdict.message, MSG_CREDENTIALS_FIX)


def _utc(moment: datetime) -> datetime:
    """RQ's times are naive UTC in some versions and aware in others."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

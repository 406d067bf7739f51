"""A fleet's first sync under Trakt's real limits: no 429, and close to the fastest they allow.

``--users`` host users (200) each rate ``--ratings`` movies (1,000) that their Trakt
account does not have yet, so each first sync pushes them all: ``POST /sync/ratings`` in
batches of 500, two per user. With ``--trakt-ratings N`` each Trakt account also holds N
other ratings for the sync to pull (default 0: the issue is about the push). Every user
is connected to their own sandbox account. The sandbox runs in its own gunicorn process
with its default limits (GET 500 per 5 minutes per user, 1 write per second per user),
and the plugin with its default budgets.

All first syncs are queued at once (``usecases/jobs.enqueue_user_sync``) while ``--workers`` real
worker processes (``flask demo worker``) and one ``flask demo scheduler`` (a 429 would
reschedule a job through rq-scheduler) are already listening. The wall time runs from
the enqueue until every user's connection shows a finished sync (``last_sync_at`` set
after the start, ``ratings_marker`` set, no ``last_error``), polled in the host database.

Then it checks that every user's ratings are on the sandbox and counts the sandbox's
answers from its request log (every API call, with its status; the log is sized to hold
them all and the benchmark fails if it might have dropped any).

The minimum the limits allow is the larger of two floors:

* the limits' own: a user whose sync made P writes and G GETs needs at least
  max((P - 1) x 1 s, (ceil(G / 500) - 1) x 300 s), and all users can go in parallel, so
  the fleet needs the largest of those ("limits floor");
* the work's own: the same run with the limits raised on both sides (sandbox and
  ``APERTURE_TRAKT_RATE_LIMITS``) is the fastest these workers can go at all ("compute
  floor", measured first; ``--no-baseline`` skips it and checks against the limits floor
  alone).

A worker is not held through a user's write spacing: a run whose next write must wait
pauses, and its job runs the next queued users' syncs meanwhile (``carrier``), resuming
the run when its slot opens, so the spacing overlaps other users' work.

    .venv/bin/python -m bench.fleet [--users 200] [--ratings 1000] [--workers 4]

Exits 1 on a 429, a missing rating, or a wall time above ``--max-ratio`` (1.15) times
the larger floor; ``--no-check`` only reports.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench.common import SyntheticWorld, bench_secret, gunicorn_sandbox, host_config
from harness.services import ManagedProcess, RedisServer, python_module
from harness.trakt_sandbox.control_client import SandboxControl

SIZE_ENV = "BENCH_FLEET_TITLES"
LIMITS_ENV = "BENCH_FLEET_RATE_LIMITS"
WORLD = SyntheticWorld("fleet", 7_000_000)
SECRET = bench_secret("fleet")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
TRAKT_GET_LIMIT, TRAKT_GET_PERIOD, TRAKT_WRITE_SPACING = 500, 300.0, 1.0
UNLIMITED_PLUGIN = {
    "user_get": "1000000 per 5 minutes",
    "app_get": "1000000 per 5 minutes",
    "user_write": "1000 per second",
}
REQUEST_LOG_SIZE = 1_000_000
POLL = 0.1


movie_ids, trakt_user = WORLD.movie_ids, WORLD.trakt_user


def sandbox_app() -> Any:
    """The sandbox with ``$BENCH_FLEET_TITLES`` synthetic movies and a request log big
    enough to keep every call of the run (gunicorn's entry point)."""
    from harness.trakt_sandbox import create_app

    movies = [
        {
            "title": f"Fleet Movie {i}",
            "year": 1950 + i % 70,
            "ids": movie_ids(i),
            "in_library": True,
        }
        for i in range(int(os.environ[SIZE_ENV]))
    ]
    return create_app(
        {
            "SANDBOX_CATALOGUE": {"movies": movies, "shows": []},
            "SANDBOX_REQUEST_LOG_SIZE": REQUEST_LOG_SIZE,
        }
    )


def host_app() -> Any:
    """The reference host for the worker processes, with ``APERTURE_TRAKT_RATE_LIMITS``
    (a mapping) handed over as JSON in the benchmark's own variable and set as a dict, so
    the no-limits run does not depend on how the host or plugin parse the environment."""
    from harness.reference_host import create_app

    limits = os.environ.get(LIMITS_ENV)
    return create_app({"APERTURE_TRAKT_RATE_LIMITS": json.loads(limits)} if limits else None)


# --- the world -----------------------------------------------------------------------------


def build_world(
    args: argparse.Namespace, config: dict[str, Any], sandbox: SandboxControl, unlimited: bool
) -> Any:
    """Users 1..N rate movies 0..R-1 on the host; each Trakt account holds movies
    R..R+T-1 (T = --trakt-ratings). Every user connected with tokens."""
    from sqlalchemy import insert

    from harness.reference_host import create_app
    from harness.reference_host.db import db
    from harness.reference_host.models import Rating
    from tests.connect_helpers import configure_trakt, connect_with_tokens

    users, rated, pulled = args.users, args.ratings, args.trakt_ratings
    app = create_app(
        {**config, "APERTURE_TRAKT_RATE_LIMITS": UNLIMITED_PLUGIN if unlimited else {}}
    )
    with app.app_context():
        WORLD.insert_host(users, rated + pulled)
        for n in range(1, users + 1):
            db.session.execute(
                insert(Rating),
                [
                    {
                        "user_id": n,
                        "item_id": i + 1,
                        "source": "aperture",
                        "value": (i + n) % 10 + 1,
                        "rated_at": T0 + timedelta(seconds=i),
                    }
                    for i in range(rated)
                ],
            )
        db.session.commit()
    if unlimited:
        sandbox.set_limits(get_per_5min=10**9, unauthed_get_per_5min=10**9, writes_per_second=10**6)
    configure_trakt(app, sandbox)
    trakt_items = [
        {
            "rating": i % 10 + 1,
            "rated_at": (T0 + timedelta(days=1, seconds=i)).isoformat(),
            "movie": {"ids": movie_ids(rated + i)},
        }
        for i in range(pulled)
    ]
    for n in range(1, users + 1):
        if trakt_items:
            sandbox.set_ratings(trakt_user(n), trakt_items)
        connect_with_tokens(app, sandbox, f"fleet{n}", trakt_user(n))
    # Connecting queues a first sync per user: drop those (and everything else in Redis:
    # the budgets start empty), the measured run queues its own.
    app.extensions["aperture_host"].redis.flushdb()
    return app


# --- processes -------------------------------------------------------------------------------


def worker_env(config: dict[str, Any], unlimited: bool) -> dict[str, str]:
    env = {
        key: ("1" if value is True else "0" if value is False else str(value))
        for key, value in config.items()
        if isinstance(value, str | bool | int | float)
    }
    env.update(DEMO_AUTO_SEED="0", PYTHONUNBUFFERED="1")
    if unlimited:
        env[LIMITS_ENV] = json.dumps(UNLIMITED_PLUGIN)
    return env


def start_processes(
    config: dict[str, Any], args: argparse.Namespace, log_dir: Path, unlimited: bool
) -> list[ManagedProcess]:
    env = worker_env(config, unlimited)
    flask = python_module("flask", "--app", "bench.fleet:host_app", "demo")
    processes = [
        ManagedProcess(
            f"worker-{n}", [*flask, "worker", "--queue", "trakt"], env=env, log_dir=log_dir
        ).start()
        for n in range(1, args.workers + 1)
    ]
    processes.append(
        ManagedProcess(
            "scheduler", [*flask, "scheduler", "--interval", "1"], env=env, log_dir=log_dir
        ).start()
    )
    return processes


def wait_for_workers(
    redis: Any, processes: list[ManagedProcess], count: int, timeout: float = 60.0
) -> None:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.output()[-3000:]}")
        if len(Worker.all(connection=redis)) >= count:
            return
        time.sleep(0.1)
    raise TimeoutError("the workers did not register in time")


# --- one run -------------------------------------------------------------------------------


def finished(app: Any, since: datetime) -> tuple[int, int]:
    """(users whose sync finished after ``since`` with nothing left in the outbox, users
    with an error recorded). A run that left writes for a later push has finished only
    once that push has sent them."""
    from sqlalchemy import func, select

    from aperture_trakt_plugin.storage.models import TraktConnection, TraktOutbox
    from harness.reference_host.db import db

    with app.app_context():
        pending = select(TraktOutbox.user_id).where(TraktOutbox.state == "pending")
        done = db.session.scalar(
            select(func.count())
            .select_from(TraktConnection)
            .where(
                TraktConnection.last_sync_at >= since,
                TraktConnection.ratings_marker.is_not(None),
                TraktConnection.last_error.is_(None),
                TraktConnection.user_id.not_in(pending),
            )
        )
        failed = db.session.scalar(
            select(func.count())
            .select_from(TraktConnection)
            .where(TraktConnection.last_error.is_not(None))
        )
        db.session.remove()
    return done, failed


def given_up(redis: Any) -> bool:
    """A job failed for good (a 429 only reschedules: the retry clears the error)."""
    from rq import Queue
    from rq.registry import FailedJobRegistry

    return len(FailedJobRegistry(queue=Queue("trakt", connection=redis))) > 0


def cpu_seconds(processes: list[ManagedProcess]) -> float | None:
    """User and system CPU seconds these processes and their children (gunicorn's worker)
    have used so far, from ``/proc`` (None where there is none). On a machine with fewer
    cores than processes, the CPU the run costs is what bounds its wall time; a job's own
    start and end stamps also count the time it waited for a core, or for Trakt."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    try:
        for process in processes:
            if process.proc is None:
                continue
            pid = process.proc.pid
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            for one in (pid, *map(int, children)):
                fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, IndexError):
        return None
    return total


def job_durations(redis: Any, users: int) -> dict[str, list[float]]:
    """Seconds each finished Trakt job of the users ran, by kind (sync, push), from RQ's
    own start and end stamps: where the workers' time went. A sync that carried other
    users' (``carrier``) counts from its start to its end, and so does each job it
    carried (from its claim): those overlap, so ``cpu_seconds`` says what they cost."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from aperture_trakt_plugin.usecases import jobs

    found: dict[str, list[float]] = {"sync": [], "push": []}
    for n in range(1, users + 1):
        for job_id in jobs.user_job_ids(n):
            try:
                job = Job.fetch(job_id, connection=redis)
            except NoSuchJobError:
                continue
            if job.started_at and job.ended_at:
                kind = "push" if "-push-" in job_id else "sync"
                found[kind].append((job.ended_at - job.started_at).total_seconds())
    return found


def run(args: argparse.Namespace, unlimited: bool) -> dict[str, Any]:
    from aperture_trakt_plugin.usecases import jobs

    label = "no limits" if unlimited else "real limits"
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    redis = RedisServer().start()
    sandbox_process = None
    processes: list[ManagedProcess] = []
    try:
        sandbox_process, url = gunicorn_sandbox(
            "bench.fleet:sandbox_app()",
            threads=4,
            extra=["--timeout", "120"],
            env={SIZE_ENV: str(args.ratings + args.trakt_ratings)},
            log_dir=work / "logs",
            ready_timeout=60,
        )
        sandbox = SandboxControl(url)
        config = host_config(work / "host.db", redis.url, url, SECRET, seed=False)
        built = time.perf_counter()
        app = build_world(args, config, sandbox, unlimited)
        host = app.extensions["aperture_host"]
        print(
            f"[{label}] world built in {time.perf_counter() - built:.1f} s "
            f"({args.users} users x {args.ratings} ratings"
            + (f", {args.trakt_ratings} on Trakt each" if args.trakt_ratings else "")
            + ")",
            flush=True,
        )
        processes = start_processes(config, args, work / "logs", unlimited)
        wait_for_workers(host.redis, processes, args.workers)
        sandbox.clear_requests()
        workers = [p for p in processes if p.name.startswith("worker-")]
        cpu_before = (cpu_seconds(workers), cpu_seconds([sandbox_process]))

        since = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        with app.app_context():
            for n in range(1, args.users + 1):
                if jobs.enqueue_user_sync(n, "fleet benchmark") is None:
                    raise RuntimeError(f"could not queue user {n}'s sync")
        enqueued = time.perf_counter() - started
        deadline = started + args.timeout
        done = failed = 0
        while time.perf_counter() < deadline:
            done, failed = finished(app, since)
            if done >= args.users:
                break
            if done + failed >= args.users and given_up(host.redis):
                break  # a failure no retry will mend: no point waiting for the timeout
            for process in processes:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited:\n{process.output()[-3000:]}")
            time.sleep(POLL)
        wall = time.perf_counter() - started
        cpu_after = (cpu_seconds(workers), cpu_seconds([sandbox_process]))
        cpu = (
            None
            if None in (*cpu_before, *cpu_after)
            else (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
        )
        print(
            f"[{label}] {done}/{args.users} synced ({failed} with an error) in {wall:.1f} s",
            flush=True,
        )
        log = sandbox.requests()
        durations = job_durations(host.redis, args.users)
        missing = 0
        for n in range(1, args.users + 1):
            held = {
                r["movie"]["ids"]["tmdb"]
                for r in sandbox.ratings(trakt_user(n))
                if r.get("type", "movie") == "movie"
            }
            missing += sum(1 for i in range(args.ratings) if movie_ids(i)["tmdb"] not in held)
        with app.app_context():
            from sqlalchemy import func, select

            from aperture_trakt_plugin.storage.models import TraktConnection
            from harness.reference_host.db import db
            from harness.reference_host.models import Rating

            host_ratings = db.session.scalar(select(func.count()).select_from(Rating))
            errors = db.session.scalars(
                select(TraktConnection.last_error)
                .where(TraktConnection.last_error.is_not(None))
                .limit(3)
            ).all()
        return {
            "label": label,
            "wall": wall,
            "durations": durations,
            "enqueue": enqueued,
            "cpu": cpu,
            "done": done,
            "failed": failed,
            "errors": errors,
            "log": log,
            "missing": missing,
            "host_missing": args.users * (args.ratings + args.trakt_ratings) - host_ratings,
        }
    finally:
        for process in processes:
            process.stop()
        if sandbox_process is not None:
            sandbox_process.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


# --- the report ------------------------------------------------------------------------------


def floors(log: list[dict[str, Any]]) -> dict[str, Any]:
    posts: Counter[str] = Counter()
    gets: Counter[str] = Counter()
    for entry in log:
        if entry["user"] is None:
            continue
        if entry["method"] == "GET":
            gets[entry["user"]] += 1
        elif entry["method"] in ("POST", "PUT", "DELETE"):
            posts[entry["user"]] += 1
    per_user = {
        user: max(
            (posts[user] - 1) * TRAKT_WRITE_SPACING if posts[user] else 0.0,
            (math.ceil(gets[user] / TRAKT_GET_LIMIT) - 1) * TRAKT_GET_PERIOD if gets[user] else 0.0,
        )
        for user in set(posts) | set(gets)
    }
    user_floor = max(per_user.values(), default=0.0)
    return {
        "posts": sum(posts.values()),
        "gets": sum(gets.values()),
        "posts_per_user": (min(posts.values(), default=0), max(posts.values(), default=0)),
        "gets_per_user": (min(gets.values(), default=0), max(gets.values(), default=0)),
        "limits_floor": user_floor,
    }


def timeline(
    log: list[dict[str, Any]], users: int, workers: int, wall: float
) -> dict[str, float] | None:
    """Where a user's job spends its time, from the sandbox's log (each entry is stamped
    when its answer was ready, in ms): head = first call to first write, gap = between the
    writes' answers (the spacing plus the second write's own time), tail = last write to
    last call; "outside" = a worker's time per user not between its first and last call
    (taking the job, reading the host, writing the ledger and host after the last call)."""
    calls: dict[str, list[tuple[float, str]]] = {}
    for entry in log:
        if entry["user"] is not None:
            at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()
            calls.setdefault(entry["user"], []).append((at, entry["method"]))
    heads, gaps, tails, spans = [], [], [], []
    for entries in calls.values():
        entries.sort()
        writes = [at for at, method in entries if method != "GET"]
        spans.append(entries[-1][0] - entries[0][0])
        if writes:
            heads.append(writes[0] - entries[0][0])
            gaps.extend(b - a for a, b in pairwise(writes))
            tails.append(entries[-1][0] - writes[-1])
    if not spans:
        return None

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2] if values else 0.0

    return {
        "head": median(heads),
        "gap": median(gaps),
        "tail": median(tails),
        "span": sum(spans) / len(spans),
        "outside": (wall * workers - sum(spans)) / users,
    }


def report(
    args: argparse.Namespace, limited: dict[str, Any], baseline: dict[str, Any] | None
) -> bool:
    print(
        f"\nFleet first sync: {args.users} users x {args.ratings} ratings to push"
        + (f" + {args.trakt_ratings} to pull" if args.trakt_ratings else "")
        + f", {args.workers} workers + rq-scheduler, sandbox in gunicorn, SQLite, "
        f"{os.cpu_count()} cores"
    )
    ok = True
    figures = floors(limited["log"])
    for result in filter(None, [limited, baseline]):
        log = result["log"]
        statuses = Counter(entry["status"] for entry in log)
        too_many = statuses.get(429, 0)
        f = floors(log)
        print(f"\n[{result['label']}]")
        print(
            f"  wall time (enqueue -> all synced)   {result['wall']:8.2f} s "
            f"(enqueueing {result['enqueue']:.2f} s)"
        )
        print(
            f"  users synced / with error           {result['done']:>5} / {result['failed']}"
            + (f"  e.g. {result['errors'][0]!r}" if result["errors"] else "")
        )
        print(
            f"  POST /sync/ratings (writes)          {f['posts']:>5}  "
            f"({f['posts_per_user'][0]}-{f['posts_per_user'][1]} per user)"
        )
        print(
            f"  GETs                                {f['gets']:>5}  "
            f"({f['gets_per_user'][0]}-{f['gets_per_user'][1]} per user)"
        )
        print(
            "  answers by status                   "
            + ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items()))
        )
        print(f"  429 answers                         {too_many:>5}")
        print(
            f"  ratings missing on Trakt / host     {result['missing']:>5} / "
            f"{result['host_missing']}"
        )
        steps = timeline(log, args.users, args.workers, result["wall"])
        if steps is not None:
            print(
                f"  per user (median s): first call -> 1st write {steps['head']:.3f}, "
                f"between writes {steps['gap']:.3f}, last write -> last call "
                f"{steps['tail']:.3f}; mean first -> last call {steps['span']:.3f}; "
                f"worker time outside calls {steps['outside']:.3f}"
            )
        if result["cpu"] is not None:
            print(
                f"  CPU during the run: workers {result['cpu'][0]:.1f} s, "
                f"sandbox {result['cpu'][1]:.1f} s"
            )
        for kind, seconds in result["durations"].items():
            if seconds:
                ordered = sorted(seconds)
                print(
                    f"  {kind} jobs: {len(seconds)}, median {ordered[len(ordered) // 2]:.3f} s,"
                    f" total {sum(seconds):.1f} worker-s"
                )
        if len(log) >= REQUEST_LOG_SIZE:
            print("  the sandbox's request log is full: counts may be short")
            ok = False
        ok &= (
            result["missing"] == 0 and result["host_missing"] == 0 and result["done"] == args.users
        )
        if result is limited:
            zero = too_many == 0
            compute = baseline["wall"] if baseline is not None else 0.0
            floor = max(figures["limits_floor"], compute)
            ratio = result["wall"] / floor if floor else math.inf
            within = ratio <= args.max_ratio
            print(
                f"  limits floor (writes - 1) x 1 s, GET windows, users in parallel "
                f"{figures['limits_floor']:6.2f} s"
            )
            if baseline is not None:
                print(f"  compute floor (the same run without limits)   {compute:6.2f} s")
            print(
                f"  minimum the limits allow (the larger)           {floor:6.2f} s  "
                f"ratio {ratio:.3f}"
            )
            print(
                f"  zero 429: {'PASS' if zero else 'FAIL'}   within "
                f"{(args.max_ratio - 1) * 100:.0f}% of that minimum: "
                f"{'PASS' if within else 'FAIL'}"
            )
            ok &= zero and within
    print("\nOK" if ok else "\nFAIL")
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--ratings", type=int, default=1000, help="host ratings per user")
    parser.add_argument(
        "--trakt-ratings",
        type=int,
        default=0,
        help="other ratings each Trakt account holds, to pull (default 0)",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=1.15,
        help="fail above this wall / minimum ratio (default 1.15)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="give up waiting for the syncs after this many seconds",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the run with every limit raised"
    )
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    baseline = None if args.no_baseline else run(args, unlimited=True)
    limited = run(args, unlimited=False)
    ok = report(args, limited, baseline)
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())

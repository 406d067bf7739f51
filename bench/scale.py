"""Scale-out: 1, 2 and 4 worker processes syncing 1,000 connected users that have changes.

One Redis, one PostgreSQL (Debian's, started for the run: ``harness/postgres.py``) and the
Trakt sandbox in its own gunicorn process, enforcing Trakt's limits (GET 500 per 5 minutes
per user, 1 write per second per user) and logging every call with its status.

Design choices:

* **The world is built once, in bulk, as after a first sync.** ``--users`` host users
  (300 by default, 1,000 for the issue's figure) each rate ``BASE`` movies that their
  Trakt account holds with the same values and times; the plugin's ledger holds the
  same rows and each connection holds the marker the sandbox reports
  (``/sync/last_activities``), so a run with no changes would be one GET.
  Users are connected through the plugin's own ``finish_connection`` with tokens the
  sandbox issues (``tests.connect_helpers.connect_with_tokens``); Redis is emptied after,
  so the first syncs that connecting queues never run and the budgets start empty.
* **Each measured round adds changes on both sides, then the scheduled job runs.** Per
  user: two new host ratings and one removed, written to the host and left in the
  plugin's outbox (as the rating hooks do, without queueing the push: the scheduled run
  must send them), and two new ratings made on Trakt (the marker moves). The adds and
  the removal are two writes (``POST /sync/ratings``, ``.../remove``) a second apart, so
  while other users wait the removal goes from a push queued behind them
  (``sync.steps.DEFER_OVER``): a user costs a sync job and a push job. Then the
  ``sync-trakt-ratings`` job (``jobs.run_sync_all``) is queued once; it queues a sync per
  user. Every round uses fresh titles, so rounds stack on the same world: a round
  starts where the previous one left everything in step, and the world is not rebuilt
  per worker count.
* **Wall time** runs from queueing ``run_sync_all`` until every connection shows a sync
  finished after the start with no error and nothing pending in its outbox (polled in the
  host database). Then both sides are checked against the expected ratings: a user counts
  as synced only if the host and Trakt hold exactly them. 429s are counted from the
  sandbox's request log; unauthenticated GETs (the only app-wide Trakt budget) too.
* **Worker counts** (``--workers 1,2,4``) run in that order with real ``flask demo worker``
  processes (plus one ``flask demo scheduler``: rate-limit retries go through
  rq-scheduler); workers are added between rounds, not restarted.
* **Where the budgets bind.** Trakt's budgets for the rating sync are all per user (the
  sync never calls Trakt without a token, so the app-wide unauthenticated bucket is not
  spent), so they cap how fast *one* user's run can go, never how many users a server
  syncs per minute: the fleet needs at least the slowest user's floor,
  max((writes - 1) x spacing, (ceil(GETs / 500) - 1) x 300 s), and otherwise the
  workers (CPU, database, the round trips) are the bound. A round with a few changes per
  user has a floor near 1 s, so the default rounds measure the workers. The ``budget``
  rounds make the per-user floor the bound in a short run: the plugin's write spacing is
  lowered to one write per ``--budget-spacing`` seconds (``APERTURE_TRAKT_RATE_LIMITS``
  ``user_write``; the sandbox stays at Trakt's 1 per second, so the plugin is the stricter
  side and nothing draws a 429). A user's two writes (the adds, then the removal) then
  stand for a user with ``spacing + 1`` batches of 500 changes at Trakt's real 1 per
  second. The first write goes at once; the removal waits out the spacing (the worker is
  handed to other users: ``sync.steps.DEFER_OVER``; the push behind them is rescheduled through
  rq-scheduler when the wait is longer than the budget's ``max_sleep``). Users per minute
  then stays near ``users / spacing`` x 60 whatever the worker count: the budget, not the
  workers, is the bound.

    .venv/bin/python -m bench.scale [--users 300] [--workers 1,2,4]
        [--budget-users 100] [--budget-spacing 20] [--no-budget] [--no-check]

The defaults took 228 s on the 2-core machine under load; ``--users 1000`` (the
issue's figure) about 8 minutes more.

Exits 1 on any 429 or any user not synced (``--no-check``: report only). Other engineers'
runs share this 2-core machine, so figures move between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import SyntheticWorld, bench_secret, gunicorn_sandbox, host_config
from harness.postgres import PostgresServer
from harness.services import ManagedProcess, RedisServer, python_module
from harness.trakt_sandbox.control_client import SandboxControl

LIMITS_ENV = "BENCH_SCALE_RATE_LIMITS"
SIZE_ENV = "BENCH_SCALE_TITLES"
WORLD = SyntheticWorld("scale", 8_000_000)
SECRET = bench_secret("scale")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BASE = 10  # ratings each user holds on both sides before the first round
HOST_ADDS, TRAKT_ADDS = 2, 2  # new ratings per user and round, on each side (+1 removal)
PER_ROUND = HOST_ADDS + TRAKT_ADDS
MAX_ROUNDS = 10  # removals take base titles 0..9
TITLES = BASE + PER_ROUND * MAX_ROUNDS
TRAKT_GET_LIMIT, TRAKT_GET_PERIOD, TRAKT_WRITE_SPACING = 500, 300.0, 1.0
REQUEST_LOG_SIZE = 1_000_000
POLL = 0.25


movie_ids, trakt_user = WORLD.movie_ids, WORLD.trakt_user


def sandbox_app() -> Any:
    """The sandbox with the benchmark's titles and a request log that keeps every call of a
    round (gunicorn's entry point)."""
    from harness.trakt_sandbox import create_app

    movies = [
        {
            "title": f"Scale Movie {i}",
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
    """The reference host for the worker processes; ``APERTURE_TRAKT_RATE_LIMITS`` comes as
    JSON in the benchmark's own variable and is set as a dict (see bench.fleet)."""
    import logging

    from harness.reference_host import create_app

    # The reference host configures no logging for the plugin, so its INFO run lines
    # (``runlog``) would be dropped; a real host routes them to its log like this.
    runs = logging.getLogger("aperture_trakt_plugin.runs")
    if not runs.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        runs.addHandler(handler)
        runs.setLevel(logging.INFO)
    limits = os.environ.get(LIMITS_ENV)
    return create_app({"APERTURE_TRAKT_RATE_LIMITS": json.loads(limits)} if limits else None)


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    """What every user should hold on both sides: title index -> (value, rated_at)."""

    users: int
    expected: dict[int, dict[int, tuple[int, datetime]]] = field(default_factory=dict)
    rounds: int = 0


def as_item(index: int, value: int, at: datetime) -> dict[str, Any]:
    return {"rating": value, "rated_at": at.isoformat(), "movie": {"ids": movie_ids(index)}}


def parallel(calls: Iterable[Any], threads: int = 8) -> list[Any]:
    """Control-API calls from a few threads: 1,000 users' worth in seconds, not minutes."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda call: call(), calls))


def build_world(app: Any, sandbox: SandboxControl, users: int) -> World:
    """Users 1..N each rate titles 0..BASE-1 on both sides, connected and in step."""
    from sqlalchemy import insert, update

    from aperture_trakt_plugin.storage.models import TraktConnection, TraktLedger
    from aperture_trakt_plugin.trakt.wire import ratings_marker
    from harness.reference_host.db import db
    from harness.reference_host.models import Rating
    from tests.connect_helpers import configure_trakt, connect_with_tokens

    world = World(users)
    with app.app_context():
        WORLD.insert_host(users, TITLES)
        for n in range(1, users + 1):
            world.expected[n] = {
                i: ((i + n) % 10 + 1, T0 + timedelta(seconds=i)) for i in range(BASE)
            }
        db.session.execute(
            insert(Rating),
            [
                {
                    "user_id": n,
                    "item_id": i + 1,
                    "source": "aperture",
                    "value": value,
                    "rated_at": at,
                }
                for n, held in world.expected.items()
                for i, (value, at) in held.items()
            ],
        )
        db.session.commit()
    configure_trakt(app, sandbox)
    parallel(
        lambda n=n: sandbox.set_ratings(
            trakt_user(n), [as_item(i, value, at) for i, (value, at) in world.expected[n].items()]
        )
        for n in range(1, users + 1)
    )
    for n in range(1, users + 1):
        connect_with_tokens(app, sandbox, f"scale{n}", trakt_user(n))
    markers = parallel(
        lambda n=n: (n, sandbox.last_activities(trakt_user(n))) for n in range(1, users + 1)
    )
    with app.app_context():
        db.session.execute(
            insert(TraktLedger),
            [
                {
                    "user_id": n,
                    "item_key": f"h:{i + 1}",
                    "kind": "movie",
                    "item_id": str(i + 1),
                    "trakt": None,
                    "tmdb": movie_ids(i)["tmdb"],
                    "imdb": movie_ids(i)["imdb"],
                    "tvdb": None,
                    "season": None,
                    "episode": None,
                    "title": f"Scale Movie {i}",
                    "value": value,
                    "rated_at": at,
                }
                for n, held in world.expected.items()
                for i, (value, at) in held.items()
            ],
        )
        now = datetime.now(UTC)
        for n, activities in markers:
            db.session.execute(
                update(TraktConnection)
                .where(TraktConnection.user_id == n)
                .values(
                    ratings_marker=json.dumps(ratings_marker(activities)),
                    last_sync_at=now,
                    last_error=None,
                )
            )
        db.session.commit()
    app.extensions["aperture_host"].redis.flushdb()  # the connect's first syncs, budgets
    return world


def add_changes(app: Any, sandbox: SandboxControl, world: World) -> None:
    """One round of changes: per user two host ratings and one removal, in the outbox (the
    push the hooks would queue is not: the scheduled run sends them), and two new ratings
    made on Trakt. Fresh titles each round, so nothing conflicts."""
    from sqlalchemy import delete, insert

    from aperture_trakt_plugin.storage.models import TraktOutbox
    from harness.reference_host.db import db
    from harness.reference_host.models import Rating

    r = world.rounds
    if r >= MAX_ROUNDS:
        raise RuntimeError(f"at most {MAX_ROUNDS} rounds per world")
    first = BASE + r * PER_ROUND
    host_new = range(first, first + HOST_ADDS)
    trakt_new = range(first + HOST_ADDS, first + PER_ROUND)
    at = datetime.now(UTC).replace(microsecond=0)
    before = {n: dict(held) for n, held in world.expected.items()}
    for n, held in world.expected.items():
        held.pop(r)
        for i in (*host_new, *trakt_new):
            held[i] = ((i * 7 + n) % 10 + 1, at)
    with app.app_context():
        db.session.execute(delete(Rating).where(Rating.item_id == r + 1))
        db.session.execute(
            insert(Rating),
            [
                {
                    "user_id": n,
                    "item_id": i + 1,
                    "source": "aperture",
                    "value": world.expected[n][i][0],
                    "rated_at": at,
                }
                for n in world.expected
                for i in host_new
            ],
        )
        db.session.execute(
            insert(TraktOutbox),
            [
                {
                    "user_id": n,
                    "item_id": str(i + 1),
                    "value": None if i == r else world.expected[n][i][0],
                    "at": at,
                    "version": 1,
                    "state": "pending",
                    "reason": None,
                }
                for n in world.expected
                for i in (r, *host_new)
            ],
        )
        db.session.commit()
    parallel(
        lambda n=n: sandbox.set_ratings(
            trakt_user(n),
            [
                as_item(i, value, when)
                for i, (value, when) in {
                    **before[n],
                    **{i: world.expected[n][i] for i in trakt_new},
                }.items()
            ],
        )
        for n in world.expected
    )
    world.rounds += 1


def check_world(app: Any, sandbox: SandboxControl, world: World) -> int:
    """Users whose host and Trakt ratings are not exactly the expected ones."""
    from sqlalchemy import select

    from harness.reference_host.db import db
    from harness.reference_host.models import Rating

    host: dict[int, dict[int, int]] = {n: {} for n in world.expected}
    with app.app_context():
        for user_id, item_id, value in db.session.execute(
            select(Rating.user_id, Rating.item_id, Rating.value)
        ):
            host.setdefault(user_id, {})[item_id - 1] = value
        db.session.remove()
    on_trakt = dict(
        parallel(
            lambda n=n: (
                n,
                {
                    r["movie"]["ids"]["tmdb"] - WORLD.tmdb_base: r["rating"]
                    for r in sandbox.ratings(trakt_user(n))
                },
            )
            for n in world.expected
        )
    )
    wrong = 0
    for n, held in world.expected.items():
        want = {i: value for i, (value, _at) in held.items()}
        wrong += host[n] != want or on_trakt[n] != want
    return wrong


# --- processes -------------------------------------------------------------------------------


class Workers:
    """``flask demo worker`` processes on the plugin's queue, plus one scheduler."""

    def __init__(
        self, config: dict[str, Any], log_dir: Path, limits: dict[str, str] | None
    ) -> None:
        env = {
            key: ("1" if value is True else "0" if value is False else str(value))
            for key, value in config.items()
            if isinstance(value, str | bool | int | float)
        }
        env.update(DEMO_AUTO_SEED="0", PYTHONUNBUFFERED="1")
        if limits:
            env[LIMITS_ENV] = json.dumps(limits)
        self.env, self.log_dir = env, log_dir
        self.flask = python_module("flask", "--app", "bench.scale:host_app", "demo")
        self.workers: list[ManagedProcess] = []
        self.scheduler = ManagedProcess(
            "scheduler", [*self.flask, "scheduler", "--interval", "1"], env=env, log_dir=log_dir
        ).start()

    def grow_to(self, count: int, redis: Any, timeout: float = 60.0) -> None:
        from rq import Worker

        while len(self.workers) < count:
            n = len(self.workers) + 1
            self.workers.append(
                ManagedProcess(
                    f"worker-{n}-{id(self)}",
                    [*self.flask, "worker", "--queue", "trakt"],
                    env=self.env,
                    log_dir=self.log_dir,
                ).start()
            )
        deadline = time.monotonic() + timeout
        while len(Worker.all(connection=redis)) < count:
            self.alive()
            if time.monotonic() > deadline:
                raise TimeoutError("the workers did not register in time")
            time.sleep(0.1)

    def alive(self) -> None:
        for process in (*self.workers, self.scheduler):
            if not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.output()[-3000:]}")

    def run_lines(self) -> list[str]:
        """The plugin's structured run lines (``runlog``) the workers printed."""
        return [
            line
            for process in self.workers
            for line in process.output().splitlines()
            if " job=" in line and " outcome=" in line
        ]

    def stop(self, redis: Any) -> None:
        for process in (*self.workers, self.scheduler):
            process.stop()
        from rq import Worker

        for worker in Worker.all(connection=redis):  # a stopped worker's stale entry
            worker.register_death()


# --- a round ---------------------------------------------------------------------------------


def finished(app: Any, since: datetime) -> tuple[int, int]:
    """(users whose sync finished after ``since`` with nothing pending, users with an
    error recorded) — the same test as bench.fleet."""
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


def per_user_floor(log: list[dict[str, Any]], spacing: float) -> tuple[float, int, int]:
    """(the slowest user's floor under the budgets, most writes, most GETs of one user)."""
    posts: Counter[str] = Counter()
    gets: Counter[str] = Counter()
    for entry in log:
        if entry["user"] is None:
            continue
        (gets if entry["method"] == "GET" else posts)[entry["user"]] += 1
    floor = 0.0
    for user in set(posts) | set(gets):
        floor = max(
            floor,
            (posts[user] - 1) * spacing if posts[user] else 0.0,
            ((gets[user] - 1) // TRAKT_GET_LIMIT) * TRAKT_GET_PERIOD,
        )
    return floor, max(posts.values(), default=0), max(gets.values(), default=0)


def measure(
    label: str,
    app: Any,
    sandbox: SandboxControl,
    world: World,
    workers: Workers,
    count: int,
    spacing: float,
    timeout: float,
) -> dict[str, Any]:
    from aperture_trakt_plugin.storage.budgets import LAST_WRITE_KEY

    host = app.extensions["aperture_host"]
    workers.grow_to(count, host.redis)
    # Rounds measure themselves alone: the previous round's last writes must be a full
    # spacing ago, or this round's first writes wait for them (a whole extra spacing
    # with lowered limits), which is the previous round's cost, not this one's.
    stamps = map(host.redis.get, host.redis.scan_iter(LAST_WRITE_KEY.format(key="*")))
    last_write = max((float(stamp) for stamp in stamps if stamp), default=0.0)
    time.sleep(max(0.0, last_write + spacing - time.time()))
    add_changes(app, sandbox, world)
    sandbox.clear_requests()
    since = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    host.queue("trakt").enqueue(
        "aperture_trakt_plugin.usecases.jobs.run_sync_all",
        None,
        job_id=f"bench-scale-run-{world.rounds}",
        job_timeout=3600,
    )
    done = failed = 0
    while time.perf_counter() - started < timeout:
        done, failed = finished(app, since)
        if done >= world.users:
            break
        workers.alive()
        time.sleep(POLL)
    wall = time.perf_counter() - started
    log = sandbox.requests()
    wrong = check_world(app, sandbox, world)
    statuses = Counter(entry["status"] for entry in log)
    floor, most_posts, most_gets = per_user_floor(log, spacing)
    row = {
        "label": label,
        "workers": count,
        "users": world.users,
        "wall": wall,
        "per_min": world.users / wall * 60,
        "done": done,
        "failed": failed,
        "wrong": wrong,
        "calls": len(log),
        "too_many": statuses.get(429, 0),
        "unauthed": sum(1 for e in log if e["user"] is None and e["method"] == "GET"),
        "gets": sum(1 for e in log if e["method"] == "GET"),
        "posts": sum(1 for e in log if e["method"] != "GET"),
        "most_posts": most_posts,
        "most_gets": most_gets,
        "floor": floor,
        "statuses": dict(statuses),
        "log_full": len(log) >= REQUEST_LOG_SIZE,
    }
    print(
        f"[{label}, {count} worker(s)] {done}/{world.users} finished in {wall:.1f} s "
        f"({row['per_min']:.0f} users/min), {row['too_many']} x 429, {wrong} wrong, "
        f"{failed} with an error",
        flush=True,
    )
    return row


def scenario(
    label: str,
    users: int,
    counts: list[int],
    limits: dict[str, str] | None,
    spacing: float,
    timeout: float,
) -> tuple[list[dict[str, Any]], list[str]]:
    """A fresh Redis, PostgreSQL database and sandbox; one world; a round per worker count."""
    from harness.reference_host import create_app

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    redis = RedisServer().start()
    postgres = PostgresServer().start()
    sandbox_process = workers = None
    try:
        sandbox_process, url = gunicorn_sandbox(
            "bench.scale:sandbox_app()",
            threads=4,
            extra=["--timeout", "120"],
            env={SIZE_ENV: str(TITLES)},
            log_dir=work / "logs",
            ready_timeout=60,
        )
        sandbox = SandboxControl(url)
        config = host_config(work / "unused.db", redis.url, url, SECRET, seed=False)
        config["DATABASE_URL"] = postgres.create_database()
        built = time.perf_counter()
        app = create_app({**config, "APERTURE_TRAKT_RATE_LIMITS": limits or {}})
        world = build_world(app, sandbox, users)
        print(
            f"[{label}] world built in {time.perf_counter() - built:.1f} s: {users} users "
            f"connected and in step, {BASE} ratings each, PostgreSQL",
            flush=True,
        )
        workers = Workers(config, work / "logs", limits)
        rows = [
            measure(label, app, sandbox, world, workers, count, spacing, timeout)
            for count in counts
        ]
        return rows, workers.run_lines()[-3:]
    finally:
        if workers is not None:
            workers.stop(_redis(redis.url))
        if sandbox_process is not None:
            sandbox_process.stop()
        postgres.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


def _redis(url: str) -> Any:
    from redis import Redis

    return Redis.from_url(url)


# --- the report ------------------------------------------------------------------------------


def report(args: argparse.Namespace, rows: list[dict[str, Any]], samples: list[str]) -> bool:
    print(
        f"\nScale-out: rating sync of connected users with changes on both sides "
        f"({HOST_ADDS} host ratings + 1 removal in the outbox, {TRAKT_ADDS} new on Trakt, "
        f"per user and round); sandbox at Trakt's limits; PostgreSQL; "
        f"{os.cpu_count()} cores shared with other runs\n"
    )
    print(
        "| round | users | workers | wall s | users/min | GETs | writes | 429 | "
        "unauth GETs | slowest user's budget floor s | synced |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for row in rows:
        synced = row["done"] - row["wrong"] if row["done"] == row["users"] else row["done"]
        print(
            f"| {row['label']} | {row['users']} | {row['workers']} | {row['wall']:.1f} | "
            f"{row['per_min']:,.0f} | {row['gets']:,} | {row['posts']:,} | "
            f"{row['too_many']} | {row['unauthed']} | {row['floor']:.0f} "
            f"({row['most_posts']} writes, {row['most_gets']} GETs max) | "
            f"{max(synced, 0)}/{row['users']} |"
        )
        ok &= (
            row["too_many"] == 0
            and row["done"] == row["users"]
            and row["wrong"] == 0
            and not row["log_full"]
        )
    print(
        "\nBounds: Trakt's budgets for the sync are per user (GET 500 per 5 min, 1 write "
        "per s; the sync spends nothing from the app-wide unauthenticated bucket), so a "
        "round cannot be shorter than its slowest user's floor, max((writes - 1) x "
        "spacing, (ceil(GETs / 500) - 1) x 300 s); above it the workers are the bound."
    )
    if not args.no_budget:
        print(
            f"budget rounds: the plugin spaces a user's writes {args.budget_spacing:g} s "
            f"apart (standing for {args.budget_spacing + 1:g} write batches at Trakt's 1 per "
            f"second), so {args.budget_users} users need about {args.budget_spacing:g} s "
            f"whatever the worker count: at most about "
            f"{args.budget_users / args.budget_spacing * 60:,.0f} users/min."
        )
    if samples:
        print("\nrun lines (runlog), last of the last round:")
        for line in samples:
            print("  " + line.strip()[-200:])
    print("\nOK" if ok else "\nFAIL")
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--users",
        type=int,
        default=300,
        help="users in the few-changes rounds (default 300; the issue's "
        "figure is 1000, about 8 minutes more here)",
    )
    parser.add_argument(
        "--workers", default="1,2,4", help="worker counts, in the order run (default 1,2,4)"
    )
    parser.add_argument(
        "--budget-users",
        type=int,
        default=100,
        help="users in the budget-bound rounds (default 100)",
    )
    parser.add_argument(
        "--budget-spacing",
        type=float,
        default=20.0,
        help="the plugin's write spacing in the budget rounds, s (default 20)",
    )
    parser.add_argument("--no-budget", action="store_true", help="skip the budget rounds")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="give up waiting for a round after this many seconds",
    )
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    args = parser.parse_args(argv)
    args.worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    if len(args.worker_counts) > MAX_ROUNDS:
        parser.error(f"at most {MAX_ROUNDS} worker counts")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    rows, samples = scenario(
        "few changes", args.users, args.worker_counts, None, TRAKT_WRITE_SPACING, args.timeout
    )
    if not args.no_budget:
        spacing = args.budget_spacing
        budget_rows, samples = scenario(
            "budget",
            args.budget_users,
            args.worker_counts,
            {"user_write": f"1 per {spacing:g} seconds"},
            spacing,
            args.timeout,
        )
        rows += budget_rows
    ok = report(args, rows, samples)
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())

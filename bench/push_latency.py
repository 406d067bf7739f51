"""How long a rating made on the host takes to reach Trakt, and how few writes a burst costs.

A rating made in the library is recorded in the plugin's outbox and a push job is queued
(``usecases/outbox.record_many`` → ``usecases/jobs.enqueue_user_push``); one real worker
process (``flask demo worker``) runs the job, which sends the outbox to Trakt. This
measures, against the sandbox running in its own gunicorn process:

* latency: ``--count`` ratings made one at a time through the host's ``apply_rating``
  (source ``aperture``, as the library page does), ``--pause`` seconds apart so that each
  is its own push (Trakt takes one write per second per user), timed from just before the
  host's call (its commit, the hook, the enqueue) to the moment the rating is visible in
  the sandbox (polled every few milliseconds over the control API, by wall clock);
* burst: ``--burst`` ratings made as fast as the host takes them (within about a second),
  then the number of ``POST /sync/ratings`` calls the sandbox saw until all had arrived.
  The outbox coalesces and the push job is queued once (plus one follow-up while it runs),
  so the aim is at most 2.

    .venv/bin/python -m bench.push_latency [--count 20] [--burst 100] [--max-p50-ms 300]

Exits 1 if the p50 latency reaches ``--max-p50-ms``, the burst costs more than
``--max-posts`` POSTs, or a rating never arrives; ``--no-check`` only reports.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import bench_secret, gunicorn_sandbox, host_config
from harness.services import (
    ManagedProcess,
    RedisServer,
    python_module,
)
from harness.trakt_sandbox.control_client import SandboxControl

HOST_USER, TRAKT_USER = "alice", "alice_trakt"
SECRET = bench_secret("push-latency")
POLL = 0.003  # seconds between looks at the sandbox
ARRIVAL_TIMEOUT = 20.0


def start_worker(config: dict[str, Any], log_dir: Path) -> ManagedProcess:
    env = {
        key: ("1" if value is True else "0" if value is False else str(value))
        for key, value in config.items()
    }
    env.update(DEMO_AUTO_SEED="0", PYTHONUNBUFFERED="1")
    argv = python_module("flask", "--app", "harness.reference_host:create_app", "demo", "worker")
    return ManagedProcess("worker", argv, env=env, log_dir=log_dir).start()


def wait_for_worker(host: Any, worker: ManagedProcess, timeout: float = 60.0) -> None:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RuntimeError(f"the worker exited:\n{worker.log_path.read_text()[-3000:]}")
        if Worker.all(connection=host.redis):
            return
        time.sleep(0.05)
    raise TimeoutError("the worker did not register in time")


def on_trakt(sandbox: SandboxControl) -> dict[int, int]:
    """tmdb → rating of the Trakt user's movie ratings, as the sandbox holds them now."""
    return {
        r["movie"]["ids"]["tmdb"]: r["rating"]
        for r in sandbox.ratings(TRAKT_USER)
        if r.get("type", "movie") == "movie"
    }


def wait_until(sandbox: SandboxControl, wanted: dict[int, int]) -> float:
    """Polls until every (tmdb, value) is on Trakt; returns the wall-clock moment."""
    deadline = time.perf_counter() + ARRIVAL_TIMEOUT
    while time.perf_counter() < deadline:
        held = on_trakt(sandbox)
        if all(held.get(tmdb) == value for tmdb, value in wanted.items()):
            return time.perf_counter()
        time.sleep(POLL)
    raise TimeoutError(
        f"{len(wanted)} rating(s) did not reach the sandbox within {ARRIVAL_TIMEOUT:.0f} s"
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(share * 100) - 1]


def measure(args: argparse.Namespace, work: Path, redis_url: str) -> dict[str, Any]:
    from aperture_trakt_plugin import sync
    from harness.reference_host import create_app
    from tests.connect_helpers import configure_trakt, connect_with_tokens, user_id

    sandbox_process, url = gunicorn_sandbox(log_dir=work / "logs")
    worker = None
    try:
        sandbox = SandboxControl(url)
        config = host_config(work / "host.db", redis_url, url, SECRET, seed=True)
        app = create_app(config)
        host = app.extensions["aperture_host"]
        configure_trakt(app, sandbox)
        connect_with_tokens(app, sandbox, HOST_USER, TRAKT_USER)
        uid = user_id(app, HOST_USER)
        with app.app_context():
            sync.sync_user_ratings(uid)  # the first sync sets the marker: pushes go fast
        movies = [m["ids"]["tmdb"] for m in sandbox.catalogue()["movies"] if m.get("in_library")]
        if len(movies) < args.count + args.burst:
            raise SystemExit(f"the library holds only {len(movies)} movies")
        with app.app_context():
            from aperture_trakt_plugin.host import ExternalIds

            items = {
                tmdb: host.find_media("movie", ExternalIds(tmdb=tmdb)).item_id
                for tmdb in movies[: args.count + args.burst]
            }
        worker = start_worker(config, work / "logs")
        wait_for_worker(host, worker)
        when = datetime.now(UTC) - timedelta(days=1)

        latencies = []
        for n, tmdb in enumerate(movies[: args.count]):
            time.sleep(args.pause)
            value = n % 10 + 1
            started = time.perf_counter()
            with app.app_context():
                host.apply_rating(uid, items[tmdb], value, when + timedelta(seconds=n), "aperture")
            latencies.append(wait_until(sandbox, {tmdb: value}) - started)

        time.sleep(args.pause)
        sandbox.clear_requests()
        burst = movies[args.count : args.count + args.burst]
        started = time.perf_counter()
        with app.app_context():
            for n, tmdb in enumerate(burst):
                host.apply_rating(
                    uid, items[tmdb], 7, when + timedelta(minutes=1, seconds=n), "aperture"
                )
        made = time.perf_counter() - started
        arrived = wait_until(sandbox, {tmdb: 7 for tmdb in burst}) - started
        time.sleep(args.pause + 0.5)  # a late extra push would show up now
        posts = [
            r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == "/sync/ratings"
        ]
        return {
            "latencies": latencies,
            "burst_made": made,
            "burst_arrived": arrived,
            "posts": len(posts),
        }
    finally:
        if worker is not None:
            worker.stop()
        sandbox_process.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20, help="ratings timed one by one")
    parser.add_argument(
        "--pause",
        type=float,
        default=1.2,
        help="seconds between them (over 1: each is its own write)",
    )
    parser.add_argument("--burst", type=int, default=100, help="ratings made at once")
    parser.add_argument(
        "--max-p50-ms",
        type=float,
        default=300.0,
        help="fail at or above this median latency (default 300)",
    )
    parser.add_argument(
        "--max-posts",
        type=int,
        default=2,
        help="fail above this many POSTs for the burst (default 2)",
    )
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-push-latency-"))
    redis = RedisServer().start()
    try:
        figures = measure(args, work, redis.url)
    finally:
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    ms = [x * 1000 for x in figures["latencies"]]
    p50, p99 = percentile(ms, 0.5), percentile(ms, 0.99)
    print(
        f"Push latency: one `flask demo worker`, sandbox in its own gunicorn process, "
        f"SQLite, {os.cpu_count()} cores"
    )
    print(f"{'measure':44} {'value':>10}  aim")
    print(f"{'ratings timed one by one':44} {len(ms):>10}")
    print(f"{'latency p50 (rating made → on Trakt)':44} {p50:>8.0f} ms  < {args.max_p50_ms:.0f} ms")
    print(f"{'latency p99':44} {p99:>8.0f} ms")
    print(f"{'latency min / max':44} {min(ms):>4.0f}/{max(ms):.0f} ms")
    print(f"{f'burst: {args.burst} ratings made in':44} {figures['burst_made']:>8.2f} s")
    print(f"{'burst: all on Trakt after':44} {figures['burst_arrived']:>8.2f} s")
    print(f"{'burst: POST /sync/ratings calls':44} {figures['posts']:>10}  <= {args.max_posts}")
    ok = p50 < args.max_p50_ms and figures["posts"] <= args.max_posts
    print("OK" if ok else "FAIL")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())

"""How fast, and in how much memory, one user's 100,000 Trakt ratings merge into the host.

A heavy Trakt user is the worst case of the pull: every rating is read, matched against
the library by ids, decided three-way against the ledger, and written to the host and
the ledger. This measures ``sync.sync_user_ratings`` for such a user (a first sync: no
ledger yet) in three situations:

* ``empty-library``: the library holds none of the titles, so nothing matches and all
  100,000 ratings are kept in the ledger, waiting for their titles to arrive;
* ``full-library``: the library holds every title and the user rates none of them on the
  server yet, so all 100,000 ratings are pulled in (host and ledger written for each);
* ``both-rated``: the library holds every title and the user already rates all of them
  on the server: half with the same value and time (agreed: only the ledger moves), half
  with another, older one (a conflict Trakt's newer rating wins: host and ledger written).
  The issue's aim names an empty and a full library, the first two cases. This third
  one, where every item is decided against both sides, is the heaviest: it is measured
  against the same figures and printed, but a miss there does not fail the benchmark
  (``--strict`` makes it).

The library is synthetic (``--size`` movies with unique tmdb and imdb ids, bulk-inserted
into a SQLite file), and the sandbox serves the same titles from its own gunicorn process,
so the sandbox's memory and CPU never count as ours. Each measurement runs in a fresh
child process on a copy of the prepared database: once plain for the time and the RSS
high-water mark (``getrusage``), once under ``tracemalloc`` for the Python peak (tracing
slows Python down, so that run's time is not reported). Phases are timed by wrapping the
functions the sync calls, in the child only.

    .venv/bin/python -m bench.sync_merge [--size 100000] [--min-rate 50000] [--max-mb 150]
                                         [--repeat N] [--profile PATH] [--sample PATH]

The rate the aim is about is ratings per CPU second of the syncing process ("merge/s"):
its wall time also holds the wait for Trakt to render and send 100,000 items (over two
seconds for the sandbox), which is Trakt's and the network's, not the plugin's. Both
are printed.

Exits 1 if a scenario does not end with every rating in the host (or, for
``empty-library``, in the ledger), or if ``empty-library`` or ``full-library`` (with
``--strict``, any) merges fewer than ``--min-rate`` ratings per second or peaks above
``--max-mb`` (tracemalloc); ``--no-check`` only reports.
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import bench_secret, gunicorn_sandbox, host_config
from harness.services import REPO, RedisServer
from harness.trakt_sandbox.control_client import SandboxControl

SIZE_ENV = "BENCH_SYNC_SIZE"
TMDB_BASE, IMDB_BASE = 5_000_000, 50_000_000
#: Scenario: (host user id, Trakt account, whether its titles are in the library).
SCENARIOS = {
    "empty-library": (3, "bench_absent", False),
    "full-library": (1, "bench_unrated", True),
    "both-rated": (2, "bench_rated", True),
}
SECRET = bench_secret("sync-merge")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SCENARIO_TIMEOUT = 120


# --- the synthetic world -----------------------------------------------------------------


def movie_ids(index: int) -> dict[str, Any]:
    return {"tmdb": TMDB_BASE + index, "imdb": f"tt{IMDB_BASE + index}"}


def trakt_value(index: int) -> int:
    return index % 10 + 1


def trakt_time(index: int) -> datetime:
    """Whole seconds, so the host can hold exactly the time Trakt reports."""
    return T0 + timedelta(seconds=index)


def sandbox_app() -> Any:
    """The sandbox with a catalogue of ``$BENCH_SYNC_SIZE`` synthetic movies (gunicorn's
    entry point: the catalogue is config, which the environment cannot carry)."""
    from harness.trakt_sandbox import create_app

    size = int(os.environ[SIZE_ENV])
    movies = [
        {
            "title": f"Bench Movie {i}",
            "year": 1950 + i % 70,
            "ids": movie_ids(i),
            "in_library": i < size,
        }
        for i in range(2 * size)
    ]  # the rest: not in it
    return create_app(
        {"SANDBOX_CATALOGUE": {"movies": movies, "shows": []}, "SANDBOX_REQUEST_LOG_SIZE": 100}
    )


def build_world(size: int, config: dict[str, Any], sandbox: SandboxControl) -> None:
    """The library (titles 0 to size - 1), a host user per scenario (one rating every
    title already), each connected to a Trakt account rating size titles: those of the
    library, or for ``empty-library`` the next size titles, which it lacks."""
    from sqlalchemy import insert

    from harness.reference_host import create_app
    from harness.reference_host.db import db
    from harness.reference_host.models import MediaItem, Rating, User
    from tests.connect_helpers import configure_trakt, connect_with_tokens

    app = create_app(config)
    with app.app_context():
        db.session.execute(
            insert(User),
            [
                {"id": user_id, "name": name, "is_admin": False}
                for name, (user_id, _, _) in SCENARIOS.items()
            ],
        )
        db.session.execute(
            insert(MediaItem),
            [
                {
                    "id": i + 1,
                    "kind": "movie",
                    "title": f"Bench Movie {i}",
                    "year": 1950 + i % 70,
                    "parent_id": None,
                    "season_number": None,
                    "episode_number": None,
                    "tvdb": None,
                    **movie_ids(i),
                }
                for i in range(size)
            ],
        )
        # Even items: the same value and time as on Trakt. Odd ones: another value, a day
        # older, so Trakt's wins and reaches the host.
        db.session.execute(
            insert(Rating),
            [
                {
                    "user_id": 2,
                    "item_id": i + 1,
                    "source": "aperture",
                    "value": trakt_value(i) if i % 2 == 0 else trakt_value(i) % 10 + 1,
                    "rated_at": trakt_time(i) if i % 2 == 0 else trakt_time(i) - timedelta(days=1),
                }
                for i in range(size)
            ],
        )
        db.session.commit()
    sandbox.set_limits(get_per_5min=10**9, unauthed_get_per_5min=10**9)
    configure_trakt(app, sandbox)
    for name, (_, trakt_user, in_library) in SCENARIOS.items():
        first = 0 if in_library else size
        sandbox.set_ratings(
            trakt_user,
            [
                {
                    "rating": trakt_value(i),
                    "rated_at": trakt_time(i).isoformat(),
                    "movie": {"ids": movie_ids(i)},
                }
                for i in range(first, first + size)
            ],
        )
        connect_with_tokens(app, sandbox, name, trakt_user)
    with app.app_context():
        db.engine.dispose()  # the file is copied next: no connection may hold it open


# --- one measurement (in a child process) --------------------------------------------------


@dataclass
class Phases:
    """Time spent inside the wrapped functions, outermost call only per label: wall and
    this process's CPU (the sandbox runs elsewhere, so a read's CPU is ours alone)."""

    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    active: bool = False  # only the sync itself counts, not the checks after it
    _depth: dict[str, int] = field(default_factory=dict)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.active:
                return inner(*args, **kwargs)
            self._depth[label] = self._depth.get(label, 0) + 1
            started = time.perf_counter(), time.process_time()
            try:
                result = inner(*args, **kwargs)
            finally:
                self._depth[label] -= 1
                if not self._depth[label]:
                    self.add(label, started)
            return self.timed_steps(result, label) if inspect.isgenerator(result) else result

        setattr(owner, name, timed)

    def add(self, label: str, started: tuple[float, float]) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started[0]
        self.cpu[label] = self.cpu.get(label, 0.0) + time.process_time() - started[1]

    def timed_steps(self, steps: Iterator[Any], label: str) -> Iterator[Any]:
        """A generator's own time is spent in its steps, not in the call that made it."""
        while True:
            started = time.perf_counter(), time.process_time()
            try:
                item = next(steps)
            except StopIteration:
                self.add(label, started)
                return
            self.add(label, started)
            yield item


def instrument(app: Any) -> Phases:
    from aperture_trakt_plugin.sync import run, trakt_side

    phases = Phases()
    host = app.extensions["aperture_host"]
    phases.wrap(trakt_side.TraktSide, "marker", "trakt: last_activities")
    phases.wrap(trakt_side.TraktSide, "rated_items", "trakt: read, decode, parse")
    phases.wrap(host, "list_ratings", "host: list ratings")
    phases.wrap(host, "find_media_bulk", "host: match by ids")
    phases.wrap(run, "plan", "plan (incl. the reads above)")
    phases.wrap(host, "apply_ratings", "host: write ratings")
    phases.wrap(run, "apply", "apply (host + ledger + marker)")
    return phases


def rss_high_water_kb() -> int:
    """This process's RSS high-water mark. ``/proc/self/status`` ``VmHWM`` where there is
    one: ``getrusage``'s ``ru_maxrss`` survives ``exec`` on Linux, so in a child it starts
    at whatever its (bigger) parent held when it forked."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(name: str, config: dict[str, Any], trace: bool, profile: str | None) -> dict[str, Any]:
    from aperture_trakt_plugin import sync
    from harness.reference_host import create_app

    app = create_app(config)
    phases = instrument(app)
    host = app.extensions["aperture_host"]
    user = host.get_user_by_name(name)
    rss_before = rss_high_water_kb()
    with app.app_context():
        if trace:
            tracemalloc.start()
        profiler = cProfile.Profile() if profile else None
        phases.active = True
        cpu_started = time.process_time()
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = sync.sync_user_ratings(user.id)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        phases.active = False
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{name}")
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        tracemalloc.stop()
        held = len(host.list_ratings(user.id))
    return {
        "scenario": name,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "status": result.status,
        "pulled": result.pulled,
        "agreed": result.agreed,
        "conflicts": len(result.conflicts),
        "api_calls": result.api_calls,
        "held": held,
        "waiting": result.waiting_for_library,
        "trace_peak": peak,
        "rss_before_kb": rss_before,
        "rss_peak_kb": rss_high_water_kb(),
        "phases": phases.seconds,
        "phases_cpu": phases.cpu,
    }


def run_child(
    name: str,
    snapshot: Path,
    work: Path,
    config: dict[str, Any],
    trace: bool,
    profile: str | None = None,
    sample: str | None = None,
) -> dict[str, Any]:
    """A fresh process on a fresh copy of the prepared database."""
    database = work / f"{name}-{'trace' if trace else 'time'}.db"
    shutil.copyfile(snapshot, database)
    child_config = {**config, "DATABASE_URL": f"sqlite:///{database}"}
    argv = [
        sys.executable,
        "-m",
        "bench.sync_merge",
        "--child",
        name,
        "--child-config",
        json.dumps(child_config),
    ] + (["--trace"] if trace else [])
    if profile and not trace:
        argv += ["--profile", profile]
    if sample and not trace:
        beside_python = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        argv = [
            shutil.which("py-spy", path=beside_python) or "py-spy",
            "record",
            "--rate",
            "250",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            f"{sample}.{name}",
            "--",
            *argv,
        ]
    done = subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT, check=False
    )
    database.unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {name} measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the report ------------------------------------------------------------------------------


def print_report(
    size: int, runs: list[tuple[dict[str, Any], dict[str, Any]]], args: argparse.Namespace
) -> bool:
    print(
        f"Merging a Trakt user with {size:,} movie ratings (SQLite file, sandbox in its own "
        f"gunicorn process, {os.cpu_count()} cores)"
    )
    print(
        f"{'scenario':13} {'wall s':>7} {'wall/s':>8} {'CPU s':>6} {'merge/s':>8} "
        f"{'py peak MB':>11} {'RSS peak MB':>12} {'RSS growth MB':>14} {'pulled':>7} "
        f"{'agreed':>7} {'waiting':>7} {'calls':>6}  result"
    )
    ok = True
    for timed, traced in runs:
        rate = size / timed["cpu_seconds"]
        peak_mb = traced["trace_peak"] / 2**20
        rss_mb = timed["rss_peak_kb"] / 1024
        growth_mb = (timed["rss_peak_kb"] - timed["rss_before_kb"]) / 1024
        in_library = SCENARIOS[timed["scenario"]][2]
        complete = timed["status"] == "synced" and (timed["held"], timed["waiting"]) == (
            (size, 0) if in_library else (0, size)
        )
        good = complete and rate >= args.min_rate and peak_mb <= args.max_mb
        aimed = timed["scenario"] != "both-rated" or args.strict
        ok &= good or (complete and not aimed)
        print(
            f"{timed['scenario']:13} {timed['seconds']:>7.2f} {size / timed['seconds']:>8,.0f} "
            f"{timed['cpu_seconds']:>6.2f} {rate:>8,.0f} {peak_mb:>11.1f} {rss_mb:>12.1f} "
            f"{growth_mb:>14.1f} {timed['pulled']:>7} {timed['agreed']:>7} "
            f"{timed['waiting']:>7} "
            f"{timed['api_calls']:>6}  {'OK' if good else 'FAIL' if aimed else 'under'}"
            + (
                ""
                if complete
                else f" (host holds {timed['held']}, {timed['waiting']} waiting, {timed['status']})"
            )
        )
    print("\nphases (seconds, wall and CPU; nested ones are inside the line below them):")
    labels = list(dict.fromkeys(label for timed, _ in runs for label in timed["phases"]))
    print(f"  {'':34}" + "".join(f" {t['scenario']:>13}" for t, _ in runs))
    print(f"  {'phase':34}" + f" {'wall':>6} {'CPU':>6}" * len(runs))
    for label in labels:
        print(
            f"  {label:34}"
            + "".join(
                f" {t['phases'].get(label, 0.0):>6.2f} {t['phases_cpu'].get(label, 0.0):>6.2f}"
                for t, _ in runs
            )
        )
    print(
        f"\naims: at least {args.min_rate:,.0f} ratings merged per CPU second of the syncing "
        f"process (merge/s) and a Python peak under {args.max_mb:.0f} MB (tracemalloc, in a "
        "separate run). wall/s includes the wait for Trakt (here the sandbox, rendering "
        "100,000 items in its own process), which the plugin does not control. RSS is the "
        "whole process (interpreter, Flask, SQLAlchemy included), growth is the sync's share."
    )
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="ratings (and movies)")
    parser.add_argument(
        "--min-rate",
        type=float,
        default=50_000.0,
        help="fail below this many ratings per second (default 50000)",
    )
    parser.add_argument(
        "--max-mb",
        type=float,
        default=150.0,
        help="fail above this tracemalloc peak in MB (default 150)",
    )
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    parser.add_argument(
        "--strict", action="store_true", help="hold both-rated, the heaviest case, to the aims too"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="time each library N times and report the run with the least CPU "
        "(other work on the machine only ever adds to it)",
    )
    parser.add_argument(
        "--scenario",
        choices=list(SCENARIOS),
        action="append",
        help="run only this library (repeatable)",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="also write cProfile stats of each timed run to PATH.<library> "
        "(profiling slows the run: its figures are not the real ones)",
    )
    parser.add_argument(
        "--sample",
        metavar="PATH",
        help="also sample each timed run with py-spy (installed separately) "
        "into PATH.<library>, in its raw (collapsed stacks) format",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(
            json.dumps(measure(args.child, json.loads(args.child_config), args.trace, args.profile))
        )
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-sync-merge-"))
    started = time.perf_counter()
    redis = RedisServer().start()
    sandbox_process = None
    try:
        sandbox_process, url = gunicorn_sandbox(
            "bench.sync_merge:sandbox_app()",
            threads=2,
            extra=["--timeout", "120"],
            env={SIZE_ENV: str(args.size)},
            log_dir=work / "logs",
            ready_timeout=60,
        )
        snapshot = work / "world.db"
        config = host_config(snapshot, redis.url, url, SECRET, seed=False)
        build_world(args.size, config, SandboxControl(url))
        print(f"world built in {time.perf_counter() - started:.1f} s")
        runs = []
        for name in args.scenario or list(SCENARIOS):
            timed = min(
                (
                    run_child(name, snapshot, work, config, False, args.profile, args.sample)
                    for _ in range(args.repeat)
                ),
                key=lambda run: run["cpu_seconds"],
            )
            runs.append((timed, run_child(name, snapshot, work, config, trace=True)))
        ok = print_report(args.size, runs, args)
    finally:
        if sandbox_process is not None:
            sandbox_process.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())

"""How long, and in how much memory, the discovery model takes to build at scale.

``discovery.ranking.build_model`` runs once per refresh over every rating on the server.
This builds it on the synthetic servers of ``bench/discovery_recall.py`` (the same
generator: taste groups, a popularity skew, uneven users) at two sizes, by default
1,000 users by about 1,000 ratings and 10,000 users by about 200 (``--items`` titles,
10,000 by default), and prints for each:

* the build's wall and CPU time, in a fresh process (numpy and scipy imported and timed
  just before it, as a worker's first refresh would pay them once);
* the growth of the process's resident set during the build: ``VmHWM`` (the high-water
  mark) after it, minus ``VmRSS`` before, with the high-water mark reset just before
  (``/proc/self/clear_refs``), so that loading the ratings does not hide the build's peak;
* the Python peak under ``tracemalloc`` during the build (numpy's arrays count there;
  scipy's C++ scratch vectors do not), from a second fresh process, since tracing slows
  the build down (that run's time is not reported).

The ratings are generated once in this process and handed to each child as a pickle of
``Rated`` tuples, so generating them costs neither the time nor the memory measured.

It exits 1 if, at the first size, import plus build takes ``--max-seconds`` CPU seconds
(default 2) or more, or the RSS growth reaches ``--max-mb`` (default 150); ``--no-check``
only reports. ``--builder MODULE:FUNCTION`` measures another builder with the same
signature, e.g. the pure-Python one the package had before
(``tests.unit.reference_model:build_model``), for the "before" figures.

    .venv/bin/python -m bench.model_build [--sizes 1000x1000,10000x200] [--items 10000]
        [--groups 6] [--seed 7] [--max-seconds 2] [--max-mb 150]
        [--builder MODULE:FUNCTION] [--no-check]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import pickle
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from aperture_trakt_plugin.discovery.ranking import Rated
from bench.discovery_recall import synthetic_server

REPO = Path(__file__).resolve().parents[1]
BUILDER = "aperture_trakt_plugin.discovery.ranking:build_model"
CHILD_TIMEOUT = 600


def proc_status_kb(field: str) -> int:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in kB (Linux only)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_high_water() -> None:
    """Sets ``VmHWM`` back to the current RSS (Linux 4.0 and later)."""
    Path("/proc/self/clear_refs").write_text("5")


def measure(path: Path, builder: str, trace: bool) -> dict[str, Any]:
    """In a fresh process: load the ratings, import numpy and scipy, build the model."""
    module, name = builder.split(":")
    build = getattr(importlib.import_module(module), name)
    with path.open("rb") as file:
        ratings = [Rated(*rating) for rating in pickle.load(file)]
    gc.collect()
    cpu_started, started = time.process_time(), time.perf_counter()
    import numpy  # noqa: F401  # what a worker's first build pays once
    import scipy.sparse  # noqa: F401

    import_cpu, import_s = time.process_time() - cpu_started, time.perf_counter() - started
    gc.collect()
    if trace:
        tracemalloc.start()
    rss_before = proc_status_kb("VmRSS")
    reset_high_water()
    cpu_started, started = time.process_time(), time.perf_counter()
    model = build(ratings)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    rss_peak = proc_status_kb("VmHWM")
    trace_peak = tracemalloc.get_traced_memory()[1] if trace else None
    tracemalloc.stop()
    return {
        "ratings": len(ratings),
        "items": len({rating.item for rating in ratings}),
        "with_neighbours": len(model.neighbours),
        "pairs": sum(len(similar) for similar in model.neighbours.values()),
        "import_s": import_s,
        "import_cpu": import_cpu,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rss_growth_kb": rss_peak - rss_before,
        "trace_peak": trace_peak,
    }


def run_child(path: Path, builder: str, trace: bool) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.model_build", "--child", str(path), "--builder", builder]
    done = subprocess.run(
        argv + (["--trace"] if trace else []),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sizes(text: str) -> list[tuple[int, int]]:
    """ "1000x1000,10000x200" → [(1000, 1000), (10000, 200)] (users by mean ratings)."""
    return [tuple(int(n) for n in size.split("x")) for size in text.split(",")]  # type: ignore[misc]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=sizes, default="1000x1000,10000x200", help="users x mean ratings, ..."
    )
    parser.add_argument("--items", type=int, default=10000)
    parser.add_argument("--groups", type=int, default=6, help="hidden taste groups")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=2.0, help="CPU, first size")
    parser.add_argument("--max-mb", type=float, default=150.0, help="RSS growth, first size")
    parser.add_argument("--builder", default=BUILDER, help="MODULE:FUNCTION to measure")
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(Path(args.child), args.builder, args.trace)))
        return 0
    print(f"Discovery model build ({args.builder}), {args.items} titles, seed {args.seed}")
    print(
        f"{'users x ratings':>16} {'ratings':>10} {'titles':>7} {'pairs':>9} {'import s':>9} "
        f"{'wall s':>7} {'CPU s':>6} {'RSS growth':>11} {'Python peak':>12}"
    )
    failed = []
    with tempfile.TemporaryDirectory(prefix="bench-model-build-") as work:
        for n, (users, ratings) in enumerate(args.sizes):
            server = synthetic_server(
                argparse.Namespace(
                    users=users, items=args.items, groups=args.groups, ratings=ratings
                ),
                args.seed,
            )
            path = Path(work) / f"{users}x{ratings}.pickle"
            with path.open("wb") as file:
                pickle.dump(
                    [
                        (user, item, value)
                        for user, rated in server.items()
                        for item, value in rated.items()
                    ],
                    file,
                )
            del server
            timed = run_child(path, args.builder, trace=False)
            traced = run_child(path, args.builder, trace=True)
            rss_mb = timed["rss_growth_kb"] / 1024
            total_cpu = timed["import_cpu"] + timed["cpu_seconds"]
            print(
                f"{f'{users:,} x {ratings:,}':>16} {timed['ratings']:>10,} {timed['items']:>7,} "
                f"{timed['pairs']:>9,} {timed['import_s']:>9.2f} {timed['seconds']:>7.2f} "
                f"{timed['cpu_seconds']:>6.2f} {rss_mb:>8.0f} MB "
                f"{traced['trace_peak'] / 2**20:>9.0f} MB"
            )
            if n == 0 and (total_cpu >= args.max_seconds or rss_mb >= args.max_mb):
                failed.append(
                    f"{users} x {ratings}: {total_cpu:.2f} CPU s with the import (aim < "
                    f"{args.max_seconds:g}), {rss_mb:.0f} MB RSS growth (aim < {args.max_mb:g})"
                )
    print("FAIL: " + "; ".join(failed) if failed else "OK")
    return 1 if failed and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())

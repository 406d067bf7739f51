"""What importing the plugin costs a process, against Flask and SQLAlchemy's own.

Every web worker, RQ worker, rq-scheduler and ``flask`` command of a host imports the
plugin's hooks (its entry point) at start. Each figure is the median of ``--runs`` fresh
interpreters (``python -X importtime`` would add its own overhead; a fresh process is
what a host pays), timing only the imports:

* **Flask + SQLAlchemy**: ``flask``, ``flask_sqlalchemy``, ``sqlalchemy``, which any
  host of this kind imports anyway: the baseline;
* **+ the plugin's hooks**: the same, then ``aperture_trakt_plugin.hooks``;
* for information, what a worker adds when it first runs a sync
  (``aperture_trakt_plugin.usecases.jobs``) and when it first connects a user
  (``aperture_trakt_plugin.accounts.oauth``, Authlib), each on top of the hooks.

Aim: the hooks add at most 50 % to the baseline. Exit 1 if not (``--no-check``: report
only).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from harness.services import REPO

BASELINE = "import flask, flask_sqlalchemy, sqlalchemy"
MEASURED = {
    "Flask + SQLAlchemy": (BASELINE, ""),
    "+ the plugin's hooks": (BASELINE, "import aperture_trakt_plugin.hooks"),
    "+ a sync (usecases.jobs)": (
        BASELINE + "; import aperture_trakt_plugin.hooks",
        "import aperture_trakt_plugin.usecases.jobs",
    ),
    "+ connecting (accounts.oauth)": (
        BASELINE + "; import aperture_trakt_plugin.hooks",
        "import aperture_trakt_plugin.accounts.oauth",
    ),
}
#: Times the first statement (the baseline) or the second (what is added on top of it).
PROGRAM = """
import time
t0 = time.perf_counter()
{before}
t1 = time.perf_counter()
{after}
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""
MAX_ADDED = 0.5


def once(before: str, after: str) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(before=before, after=after or "pass")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    first, second = done.stdout.split()
    return float(first), float(second)


def measure(runs: int) -> dict[str, float]:
    """Median seconds of each line: the baseline's own, and each addition on top."""
    figures: dict[str, float] = {}
    for label, (before, after) in MEASURED.items():
        times = [once(before, after) for _ in range(runs)]
        column = 0 if not after else 1
        figures[label] = statistics.median(t[column] for t in times)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per figure")
    parser.add_argument("--no-check", action="store_true", help="report only, always exit 0")
    args = parser.parse_args(argv)
    figures = measure(args.runs)
    baseline = figures["Flask + SQLAlchemy"]
    print(f"Import time, median of {args.runs} fresh interpreters ({sys.version.split()[0]})")
    print(f"{'imports':32} {'seconds':>8} {'of baseline':>12}")
    for label, seconds in figures.items():
        share = "" if label == "Flask + SQLAlchemy" else f"{seconds / baseline:>11.0%}"
        print(f"{label:32} {seconds:>8.3f} {share:>12}")
    added = figures["+ the plugin's hooks"] / baseline
    ok = added <= MAX_ADDED
    print(f"aim: the hooks add at most {MAX_ADDED:.0%}: {'OK' if ok else 'MISSED'} ({added:.0%})")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())

"""Every benchmark runs to its report, on small sizes.

The benchmarks reach into the package (``sync_merge`` times ``sync.run.plan`` and
``apply`` by wrapping them), so a refactor can break one without any test noticing
until someone measures: the move of ``sync.py`` into a folder did exactly that. Their
figures are not checked here (``--no-check``, tiny sizes: timings are the benches' own
business, never a unit test's); only that each one runs and prints its report."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.services import REPO

#: module → small arguments (``--no-check`` added, but for the one without it, whose
#: aim is set low instead), and a line its report always prints.
BENCHES = {
    "sync_merge": (["--size", "2000", "--scenario", "both-rated"], "phases (seconds"),
    "push_latency": (["--count", "2", "--pause", "1.1", "--burst", "5"], "latency p50"),
    "fleet": (["--users", "4", "--ratings", "30", "--workers", "2"], "users synced / with error"),
    "scale": (
        ["--users", "4", "--workers", "1", "--no-budget", "--timeout", "60"],
        "workers",
    ),
    "discovery_recall": (["--users", "40", "--items", "200", "--ratings", "20"], "build_model"),
    "discovery_page": (["--candidates", "200", "--runs", "3", "--warmup", "1"], "GET /discover"),
    "model_build": (["--sizes", "50x20", "--items", "300"], "RSS growth"),
    "import_time": (["--runs", "1"], "the plugin's hooks"),
    "sandbox_throughput": (
        ["--duration", "0.5", "--max-requests", "200", "--min-rps", "1"],
        "req/s",
    ),
}

NO_CHECK = {"sandbox_throughput": []}


@pytest.mark.parametrize("bench", sorted(BENCHES))
def test_the_bench_runs_to_its_report(bench: str) -> None:
    arguments, printed = BENCHES[bench]
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", *arguments, *NO_CHECK.get(bench, ["--no-check"])],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"bench.{bench} exited {done.returncode}:\n{output[-4000:]}"
    assert printed in output, f"bench.{bench} printed no report:\n{output[-4000:]}"

"""How many simple GETs per second the Trakt sandbox serves on one core.

Our own benchmarks drive the plugin against the sandbox; if the sandbox were slow, they
would measure it instead of us. This runs the sandbox the way a deployment would (gunicorn,
one worker, pinned to one core with ``taskset``), drives it from this process pinned to
the other core, and reports requests per second, latency percentiles and errors for two
simple GETs: ``/movies/trending`` without a token (the public path) and ``/sync/ratings``
with one (token lookup, user bucket, a user's list). The rate limits are raised through
the control API first, so every answer is a real 200 and not a cheap 429.

The load generator is plain ``http.client`` with keep-alive in a few threads: it costs far
less CPU per request than ``requests``, so on its own core it outruns one sandbox core and
the figure is the sandbox's. The sandbox worker's CPU use during each run is printed too:
close to 100% means the sandbox, not the client, was the limit.

    .venv/bin/python -m bench.sandbox_throughput [--duration 5] [--min-rps 1000]

Exits 1 if any endpoint stays below ``--min-rps`` or answers anything but 200.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import gunicorn_sandbox
from harness.trakt_sandbox.control_client import SandboxControl, api_headers

REPO = Path(__file__).resolve().parent.parent
USERNAME = "bench_user"
RATED = [
    {"rating": rating, "movie": {"ids": {"tmdb": tmdb}}}
    for rating, tmdb in ((8, 603), (9, 550), (7, 27205), (6, 20526), (5, 126757))
]


@dataclass
class Endpoint:
    name: str
    path: str
    headers: dict[str, str]


@dataclass
class Tally:
    """One load thread's count; merged after the run, so threads never share a lock."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


@dataclass
class Result:
    endpoint: str
    requests: int
    errors: dict[str, int]
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float | None  # share of one core the sandbox worker used

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def pin_to(cpu: int) -> None:
    """Pin this process (and the threads it will start) to one core."""
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids(master: int) -> list[int]:
    """gunicorn's workers are the master's children; the work happens there."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


def allowed_cpus(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return "?"


def load_thread(
    host: str,
    port: int,
    endpoint: Endpoint,
    stop_at: float,
    budget: list[int],
    budget_lock: threading.Lock,
    tally: Tally,
) -> None:
    """Issue GETs back to back over one keep-alive connection until time or count runs out."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    clock = time.perf_counter
    try:
        while clock() < stop_at:
            with budget_lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            started = clock()
            try:
                conn.request("GET", endpoint.path, headers=endpoint.headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                tally.error(type(exc).__name__)
                conn.close()
                continue
            tally.latencies.append(clock() - started)
            if response.status != 200:
                tally.error(f"HTTP {response.status}")
            if response.will_close:
                conn.close()  # e.g. gunicorn's sync worker: reconnects on the next call
    finally:
        conn.close()


def run(
    url: str,
    endpoint: Endpoint,
    seconds: float,
    max_requests: int,
    threads: int,
    server_pids: list[int],
) -> Result:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tallies = [Tally() for _ in range(threads)]
    budget, budget_lock = [max_requests], threading.Lock()
    cpu_before = [process_cpu_seconds(pid) for pid in server_pids]
    started = time.perf_counter()
    workers = [
        threading.Thread(
            target=load_thread,
            args=(host, port, endpoint, started + seconds, budget, budget_lock, tally),
        )
        for tally in tallies
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    cpu_after = [process_cpu_seconds(pid) for pid in server_pids]
    used = [
        after - before
        for before, after in zip(cpu_before, cpu_after, strict=True)
        if before is not None and after is not None
    ]
    latencies = sorted(x for tally in tallies for x in tally.latencies)
    errors: dict[str, int] = {}
    for tally in tallies:
        for what, count in tally.errors.items():
            errors[what] = errors.get(what, 0) + count
    if len(latencies) >= 2:
        p50 = statistics.median(latencies)
        p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    else:
        p50 = p99 = latencies[0] if latencies else 0.0
    return Result(
        endpoint.name,
        len(latencies),
        errors,
        elapsed,
        p50 * 1000,
        p99 * 1000,
        sum(used) / elapsed if used else None,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds of load per endpoint (default 5)"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=100_000,
        help="stop an endpoint's run after this many requests",
    )
    parser.add_argument("--threads", type=int, default=4, help="load-generator threads")
    parser.add_argument(
        "--min-rps",
        type=float,
        default=1000.0,
        help="fail below this many requests per second (default 1000)",
    )
    parser.add_argument("--server-cpu", type=int, default=0, help="core for the sandbox")
    parser.add_argument("--client-cpu", type=int, default=1, help="core for the load")
    parser.add_argument(
        "--worker-class",
        default="gthread",
        help="gunicorn worker class: gthread keeps connections alive, "
        "sync closes each one (default gthread)",
    )
    parser.add_argument(
        "--server-threads",
        type=int,
        default=4,
        help="gunicorn --threads for the gthread worker (default 4)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Logging every call would measure the log; the request log is kept short instead.
    server, url = gunicorn_sandbox(
        threads=args.server_threads,
        worker_class=args.worker_class,
        cpu=args.server_cpu,
        extra=["--keep-alive", "5"],
        env={"SANDBOX_REQUEST_LOG_SIZE": "1000"},
    )
    try:
        control = SandboxControl(url)
        control.reset()
        control.set_limits(get_per_5min=10**9, unauthed_get_per_5min=10**9)
        token = control.issue_tokens(USERNAME)["access_token"]
        control.set_ratings(USERNAME, RATED)
        control.http.close()
        pin_to(args.client_cpu)
        pids = worker_pids(server.proc.pid) or [server.proc.pid]
        endpoints = [
            Endpoint("GET /movies/trending (no token)", "/movies/trending", api_headers()),
            Endpoint("GET /sync/ratings (token)", "/sync/ratings", api_headers(token)),
        ]
        for endpoint in endpoints:  # warm up: imports, first connections, caches
            run(url, endpoint, 0.5, 500, args.threads, pids)
        results = [
            run(url, endpoint, args.duration, args.max_requests, args.threads, pids)
            for endpoint in endpoints
        ]
        print_report(results, args, pids)
    finally:
        server.stop()
    return 1 if any(r.rps < args.min_rps or r.errors for r in results) else 0


def print_report(results: list[Result], args: argparse.Namespace, pids: list[int]) -> None:
    threads = f" ({args.server_threads} threads)" if args.worker_class == "gthread" else ""
    print(
        f"Trakt sandbox: gunicorn, 1 {args.worker_class} worker{threads} "
        f"on CPU {allowed_cpus(pids[0])}; "
        f"load: {args.threads} keep-alive threads on CPU {args.client_cpu}; "
        f"{os.cpu_count()} cores in all"
    )
    print(
        f"{'endpoint':36} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'server CPU':>10} {'errors':>7}"
    )
    for r in results:
        cpu = f"{r.server_cpu:.0%}" if r.server_cpu is not None else "n/a"
        print(
            f"{r.endpoint:36} {r.requests:>9} {r.rps:>9.0f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {cpu:>10} {sum(r.errors.values()):>7}"
        )
        if r.errors:
            print(f"    errors: {r.errors}")
    slowest = min(r.rps for r in results)
    verdict = "OK" if slowest >= args.min_rps and not any(r.errors for r in results) else "FAIL"
    print(
        f"sandbox throughput: {slowest:.0f} simple GETs/s on one core "
        f"(minimum {args.min_rps:.0f}) {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())

"""What the benchmarks share: the sandbox in a real gunicorn process, the host's config,
and the made-up titles and Trakt users of a benchmark's world.

The sandbox runs in its own process so that its CPU time and memory never count as ours.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.services import REPO, ManagedProcess, free_port, wait_for_port


@dataclass(frozen=True)
class SyntheticWorld:
    """Names for a benchmark's made-up movies and Trakt accounts. Each benchmark takes a
    TMDB range of its own (IMDb ids at ten times it), so its titles never meet the
    seeded catalogue's or another benchmark's."""

    name: str
    tmdb_base: int

    def movie_ids(self, index: int) -> dict[str, Any]:
        return {"tmdb": self.tmdb_base + index, "imdb": f"tt{self.tmdb_base * 10 + index}"}

    def trakt_user(self, n: int) -> str:
        return f"{self.name}_trakt_{n}"

    def insert_host(self, users: int, titles: int) -> None:
        """Users 1..``users`` (named ``<name><n>``) and ``titles`` movies, inserted into the
        reference host's session in bulk (committed by the caller, in an app context)."""
        from sqlalchemy import insert

        from harness.reference_host.db import db
        from harness.reference_host.models import MediaItem, User

        db.session.execute(
            insert(User),
            [{"id": n, "name": f"{self.name}{n}", "is_admin": False} for n in range(1, users + 1)],
        )
        db.session.execute(
            insert(MediaItem),
            [
                {
                    "id": i + 1,
                    "kind": "movie",
                    "title": f"{self.name.title()} Movie {i}",
                    "year": 1950 + i % 70,
                    "parent_id": None,
                    "season_number": None,
                    "episode_number": None,
                    "tvdb": None,
                    **self.movie_ids(i),
                }
                for i in range(titles)
            ],
        )


def gunicorn_sandbox(
    app_spec: str = "harness.trakt_sandbox:create_app()",
    *,
    threads: int = 4,
    worker_class: str = "gthread",
    cpu: int | None = None,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    ready_timeout: float = 30,
) -> tuple[ManagedProcess, str]:
    """Starts the sandbox under gunicorn (one worker), pinned to ``cpu`` if given, and waits
    until it listens. Returns the process and the base URL."""
    port = free_port()
    argv = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        worker_class,
        "--log-level",
        "warning",
        *extra,
    ]
    if worker_class == "gthread":  # gunicorn turns "sync" into gthread if threads > 1
        argv += ["--threads", str(threads)]
    argv.append(app_spec)
    if cpu is not None and shutil.which("taskset") and cpu < (os.cpu_count() or 1):
        argv = ["taskset", "-c", str(cpu), *argv]
    process = ManagedProcess(
        "sandbox", argv, env={"PYTHONPATH": str(REPO), **(env or {})}, log_dir=log_dir
    ).start()
    wait_for_port(port, timeout=ready_timeout)
    return process, f"http://127.0.0.1:{port}"


def bench_secret(name: str) -> str:
    """A ``SECRET_KEY`` for one benchmark run. Its worker processes are not in testing
    mode, so the plugin refuses a short or guessable key there as it would in production
    (``crypto.configure``); a fresh random one per run is what a real server has."""
    return f"bench-{name}-{secrets.token_urlsafe(32)}"


def host_config(
    database: Path, redis_url: str, sandbox_url: str, secret: str, seed: bool
) -> dict[str, Any]:
    """The reference host on a SQLite file, with the plugin pointed at the sandbox."""
    return {
        "TESTING": True,
        "SECRET_KEY": secret,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_url,
        "DEMO_AUTO_SEED": seed,
        "APERTURE_TRAKT_API_URL": sandbox_url,
        "APERTURE_TRAKT_AUTH_URL": sandbox_url,
        "PUBLIC_BASE_URL": "http://host.test",
    }

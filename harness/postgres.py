"""A throwaway PostgreSQL cluster for the tests that must hold on both databases.

SQLite forgives things PostgreSQL does not (naive and aware datetimes mixed, batch
migrations, many writers), so the sync and job tests also run on Debian's PostgreSQL.
The cluster lives in a temp dir on a free loopback port with its socket in that dir, so
it never meets a system PostgreSQL or another test run; each test gets its own database.
PostgreSQL refuses to run as root: as root, the cluster runs as ``nobody`` (or as a
system user created for it when ``nobody`` cannot write the dir).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.services import ThrowawayServer, free_port, wait_for_port

SERVICE_USER = "aperture-pg"
TEMPLATE = "aperture_test_template"
# Durability costs time and buys nothing for a cluster deleted at the end of the run.
FAST_SETTINGS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
)


def find_binary(name: str) -> str | None:
    """On the PATH, or where Debian's ``postgresql`` package puts it (not on the PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _runs_as(user: str, directory: Path) -> bool:
    probe = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-w", str(directory)],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _service_user(directory: Path) -> str | None:
    """``None`` when not root; otherwise an unprivileged user that owns ``directory``."""
    if os.geteuid() != 0:
        return None
    for user in ("nobody", SERVICE_USER):
        if (
            user == SERVICE_USER
            and subprocess.run(["id", "-u", user], capture_output=True, check=False).returncode != 0
        ):
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                check=True,
                capture_output=True,
            )
        shutil.chown(directory, user=user)
        if _runs_as(user, directory):
            return user
    raise RuntimeError(
        f"neither nobody nor {SERVICE_USER} can write {directory}: set TMPDIR "
        "to a directory every user can reach"
    )


class PostgresServer(ThrowawayServer):
    """``initdb`` + ``pg_ctl`` in a temp dir; ``create_database`` hands out fresh ones."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir: Path | None = None
        self.user: str | None = None
        self._admin = None  # a psycopg connection to the ``postgres`` database
        self._names = itertools.count(1)

    @property
    def data_dir(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        done = subprocess.run(
            [*prefix, *argv], cwd=self.dir, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def start(self) -> PostgresServer:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError(
                "PostgreSQL is not installed: run `make test` or `apt-get install -y postgresql`"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="trakt-pg-"))
        self.user = _service_user(self.dir)
        atexit.register(self.stop)  # a run stopped by Ctrl-C still removes the cluster
        self._run(
            initdb,
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {FAST_SETTINGS}"
        self._run(
            pg_ctl,
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )
        wait_for_port(self.port)
        import psycopg

        self._admin = psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )
        self._admin.execute(f"CREATE DATABASE {TEMPLATE} TEMPLATE template0")
        return self

    def create_database(self) -> str:
        """A new empty database (a copy of a small template, so it is quick); its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self._admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drops it even if a process the test started still holds a connection."""
        name = url.rsplit("/", 1)[1]
        self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def log(self) -> str:
        path = self.dir / "server.log" if self.dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        if self.dir is None:
            return
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):  # already gone: only the dir is left
                self._run(
                    find_binary("pg_ctl") or "pg_ctl",
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                )
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

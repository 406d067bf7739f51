"""A throwaway MariaDB server for the tests that must hold on every database.

Media servers often run on MariaDB or MySQL, which differ from SQLite and PostgreSQL in
ways that lose data quietly: ``TEXT`` holds 64 KiB ("Data too long" for a long watch
history), ``DATETIME`` drops the sub-second part of the times the merge compares. So
the same tests run on Debian's ``mariadb-server`` too. Like ``harness/postgres.py``: a
data dir in a temp dir, a free loopback port, a socket in that dir, a fresh database
per test; as root, the server runs as the package's ``mysql`` user.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.services import ThrowawayServer, free_port

SERVICE_USER = "mysql"
#: Durability costs time and buys nothing for a server deleted at the end of the run.
FAST_SETTINGS = (
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--sync-binlog=0",
    "--skip-log-bin",
    "--innodb-buffer-pool-size=64M",
    "--max-connections=300",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
)
READY_TIMEOUT = 60.0


def find_binary(name: str) -> str | None:
    """On the PATH, or in /usr/sbin (where Debian puts ``mariadbd``)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    return found


class MariaDBServer(ThrowawayServer):
    """``mariadb-install-db`` + ``mariadbd`` in a temp dir; ``create_database`` hands out
    fresh ones. Connects with PyMySQL, the driver the tests' URLs name."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    @property
    def socket(self) -> Path:
        assert self.dir is not None
        return self.dir / "mariadb.sock"

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def start(self) -> MariaDBServer:
        install, server = find_binary("mariadb-install-db"), find_binary("mariadbd")
        if install is None or server is None:
            raise RuntimeError(
                "MariaDB is not installed: run `make test` or `apt-get install -y mariadb-server`"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="trakt-mariadb-"))
        atexit.register(self.stop)  # a run stopped by Ctrl-C still removes the server
        data = self.dir / "data"
        as_user = ["--user=" + SERVICE_USER] if os.geteuid() == 0 else []
        if as_user:
            shutil.chown(self.dir, user=SERVICE_USER)
        done = subprocess.run(
            [
                install,
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *as_user,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{done.stdout}\n{done.stderr}")
        log = open(self.dir / "server.log", "wb")  # noqa: SIM115 (the server writes to it)
        self.process = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.dir / 'mariadb.pid'}",
                *FAST_SETTINGS,
                *as_user,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()
        return self

    def _connect(self, database: str | None = None) -> Any:
        import pymysql

        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", database=database, autocommit=True
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited early:\n{self.log()[-3000:]}")
            try:
                self._connect().close()
                return
            except Exception:  # not listening yet (pymysql's OperationalError)
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"mariadbd not ready after {READY_TIMEOUT}s:\n{self.log()[-3000:]}"
                    ) from None
                time.sleep(0.2)

    def create_database(self) -> str:
        """A new empty database (utf8mb4); its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with contextlib.closing(self._connect()) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1].split("?")[0]
        with contextlib.closing(self._connect()) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")

    def log(self) -> str:
        path = self.dir / "server.log" if self.dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

"""Runs the whole demo locally: Redis, the Trakt sandbox, the reference host with the
plugin, an RQ worker and the scheduler.  ``python -m harness.demo [--check]``

Everything listens on loopback, logs to ``.demo/logs/`` and is stopped on Ctrl-C or
SIGTERM, or as soon as any part dies (its log tail is printed, so a broken start says
why). ``--check`` starts everything, makes one request to the host and one to the
sandbox, prints OK and stops: CI uses it to prove the demo starts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from harness.reference_host.seed import DEMO_RATERS
from harness.services import REPO, ManagedProcess, RedisServer, python_module, wait_for_port

DEMO_DIR = REPO / ".demo"
HOST_APP = "harness.reference_host:create_app"
SANDBOX_APP = "harness.trakt_sandbox:create_app"
DEMO_LOGINS = "admin (admin), alice, bob"
SANDBOX_USERS = "alice_trakt, bob_trakt, carol_trakt"
CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
START_TIMEOUT = 60.0
LOG_TAIL = 4000


class ChildDied(RuntimeError):
    """One of the demo's processes exited on its own."""


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(preferred: int) -> int:
    if port_is_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def persistent_secret(state_dir: Path, name: str, make: Callable[[], str]) -> str:
    """Kept in ``.demo/`` so that secrets encrypted in one run can be read in the next."""
    path = state_dir / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def flask_command(app: str, *args: str) -> list[str]:
    return python_module("flask", "--app", app, *args)


def flask_run(app: str, port: int) -> list[str]:
    return flask_command(
        app, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger"
    )


class Demo:
    def __init__(self, host_port: int, sandbox_port: int, state_dir: Path) -> None:
        self.host_port, self.sandbox_port = host_port, sandbox_port
        self.state_dir, self.log_dir = state_dir, state_dir / "logs"
        self.children: list[ManagedProcess] = []

    @property
    def host_url(self) -> str:
        return f"http://localhost:{self.host_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        log_path = self.log_dir / f"{name}.log"
        log_path.unlink(missing_ok=True)
        process = ManagedProcess(
            name, argv, env={**env, "PYTHONUNBUFFERED": "1"}, log_dir=self.log_dir
        ).start()
        self.children.append(process)
        return process

    def wait_listening(self, process: ManagedProcess, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                wait_for_port(port, timeout=0.5)
                return
            except TimeoutError:
                continue
        raise ChildDied(f"{process.name} did not listen on {port} in {START_TIMEOUT:.0f}s")

    def check_alive(self) -> None:
        for child in self.children:
            if not child.alive():
                raise ChildDied(
                    f"{child.name} exited with code {child.proc.returncode}; "
                    f"last lines of {child.log_path}:\n"
                    f"{child.output()[-LOG_TAIL:]}"
                )

    def start(self, redis_url: str) -> None:
        # The sandbox's app accepts the host's callback, as a registered Trakt app would.
        sandbox = self.spawn(
            "sandbox",
            flask_run(SANDBOX_APP, self.sandbox_port),
            {
                "SANDBOX_DEMO_USERS": "1",
                "SANDBOX_REDIRECT_URIS": f"{self.host_url}/plugins/trakt/callback",
            },
        )
        self.wait_listening(sandbox, self.sandbox_port)
        env = {
            "DATABASE_URL": f"sqlite:///{self.state_dir / 'demo.db'}",
            "REDIS_URL": redis_url,
            "PUBLIC_BASE_URL": self.host_url,
            "SECRET_KEY": persistent_secret(
                self.state_dir, "secret_key", lambda: secrets.token_urlsafe(32)
            ),
            "APERTURE_TRAKT_ENCRYPTION_KEYS": persistent_secret(
                self.state_dir, "fernet_key", fernet_key
            ),
            "APERTURE_TRAKT_API_URL": self.sandbox_url,
            "APERTURE_TRAKT_AUTH_URL": self.sandbox_url,
            "DEMO_SEED_RATINGS": "1",
        }
        self.write_env_file(env)
        # The web app creates the tables, seeds and migrates; the others start after it.
        host = self.spawn("host", flask_run(HOST_APP, self.host_port), env)
        self.wait_listening(host, self.host_port)
        self.spawn("worker", flask_command(HOST_APP, "demo", "worker"), env)
        self.spawn("scheduler", flask_command(HOST_APP, "demo", "scheduler"), env)

    @property
    def env_file(self) -> Path:
        return self.state_dir / "demo.env"

    def write_env_file(self, env: dict[str, str]) -> None:
        """The demo's settings for a ``flask trakt …`` in another terminal: without them
        the command opens another database and finds no connections. Holds the keys, so
        only its owner may read it."""
        lines = [f"FLASK_APP={HOST_APP}", *(f"{key}={value}" for key, value in env.items())]
        self.env_file.touch(mode=0o600)
        self.env_file.write_text("\n".join(lines) + "\n")

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()

    def banner(self) -> str:
        return "\n".join(
            [
                "",
                "Aperture reference host with the Trakt plugin is running.",
                f"  Host:     {self.host_url}   (log in as {DEMO_LOGINS})",
                f"            {', '.join(DEMO_RATERS)} have rated titles here too",
                f"  Sandbox:  {self.sandbox_url}   (Trakt users: {SANDBOX_USERS})",
                "  alice_trakt's ratings on the sandbox's Trakt website:",
                f"            {self.sandbox_url}/site/users/alice_trakt/ratings",
                "  On Admin -> Settings -> Setup -> Integrations enter the Trakt app:",
                f"    Client ID: {CLIENT_ID}    Client Secret: {CLIENT_SECRET}",
                f"  Logs:     {self.log_dir}",
                "  The plugin's commands on this demo, in another terminal:",
                f"    set -a; . {self.env_file}; set +a; .venv/bin/flask trakt status",
                "Press Ctrl-C to stop everything.",
                "",
            ]
        )


def fetch_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for_worker(redis_url: str, demo: Demo) -> None:
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)
    deadline = time.monotonic() + START_TIMEOUT
    while not Worker.all(connection=connection):
        demo.check_alive()
        if time.monotonic() > deadline:
            raise ChildDied("the worker did not register with Redis")
        time.sleep(0.2)


def check(demo: Demo, redis_url: str) -> None:
    status = fetch_status(f"{demo.host_url}/login")
    if status != 200:
        raise ChildDied(f"host login page answered {status}; see {demo.log_dir / 'host.log'}")
    status = fetch_status(f"{demo.sandbox_url}/")
    if status >= 500:
        raise ChildDied(f"sandbox answered {status}; see {demo.log_dir / 'sandbox.log'}")
    wait_for_worker(redis_url, demo)
    demo.check_alive()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="start everything, check it answers, then stop"
    )
    parser.add_argument("--port", type=int, default=5000, help="host port (if free)")
    parser.add_argument("--sandbox-port", type=int, default=5055, help="sandbox port (if free)")
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEMO_DIR,
        help="where the database, keys and logs live (default .demo/)",
    )
    args = parser.parse_args(argv)
    (args.dir / "logs").mkdir(parents=True, exist_ok=True)
    host_port = pick_port(args.port)
    sandbox_port = pick_port(args.sandbox_port)
    if sandbox_port == host_port:
        sandbox_port = pick_port(0)
    demo = Demo(host_port, sandbox_port, args.dir.resolve())

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    # Also when started from a script, whose background jobs inherit an ignored SIGINT.
    signal.signal(signal.SIGINT, on_signal)
    with ExitStack() as stack:
        redis_server = stack.enter_context(RedisServer())
        stack.callback(demo.stop)
        try:
            demo.start(redis_server.url)
            if args.check:
                check(demo, redis_server.url)
                print(
                    f"OK: host {demo.host_url} and sandbox {demo.sandbox_url} answer, "
                    "worker and scheduler are running"
                )
                return 0
            print(demo.banner(), flush=True)
            while True:
                demo.check_alive()
                time.sleep(0.5)
        except ChildDied as exc:
            print(f"demo stopped: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping the demo ...", flush=True)
            return 0
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())

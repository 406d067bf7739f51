"""Fixtures for the reference host and the plugin inside it.

``host_app`` builds a fresh host per test on its own SQLite file and the test's flushed
Redis. Tests change its configuration by overriding ``host_config`` (a fixture of the
same name in the test module, or ``indirect`` parametrisation). Plugins found under the
entry point group load as they would in production unless the config says otherwise.
Two markers opt a module in: ``trakt`` points the plugin at the sandbox, and
``both_databases`` runs each test on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from harness.mariadb import MariaDBServer
from harness.postgres import PostgresServer
from harness.services import ManagedProcess, python_module

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
WORKER_READY_TIMEOUT = 30.0


def csrf_token_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    if match is None:
        raise AssertionError("the page has no csrf_token field")
    return match.group(1)


@pytest.fixture()
def host_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra ``create_app`` config; a test may override or parametrise it. Tests marked
    ``trakt`` get the plugin pointed at the sandbox (API and auth host)."""
    config = dict(getattr(request, "param", None) or {})
    if request.node.get_closest_marker("trakt"):
        from tests.connect_helpers import trakt_host_config

        config = {**trakt_host_config(request.getfixturevalue("sandbox_server")), **config}
    return config


#: The session fixture that runs each database server.
SERVERS = {"postgresql": "postgres_server", "mariadb": "mariadb_server"}


@pytest.fixture()
def database(request: pytest.FixtureRequest) -> str:
    """``sqlite``, or ``postgresql`` or ``mariadb`` for the other runs of a
    ``both_databases`` test."""
    return getattr(request, "param", "sqlite")


@pytest.fixture()
def host_database_url(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """Each test on its own SQLite file, or its own fresh PostgreSQL or MariaDB database
    (dropped after the test) when marked ``both_databases``."""
    if database == "sqlite":
        yield f"sqlite:///{tmp_path / 'host.db'}"
        return
    server: PostgresServer | MariaDBServer = request.getfixturevalue(SERVERS[database])
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL cluster for the session, started only if a test asks for it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """One real MariaDB server for the session, started only if a test asks for it."""
    with MariaDBServer() as server:
        yield server


@pytest.fixture()
def host_app(
    host_config: dict[str, Any], host_database_url: str, redis_url: str
) -> Iterator[Flask]:
    from harness.reference_host import create_app
    from harness.reference_host.db import db

    # Long and random-looking: worker processes started from this config run outside
    # TESTING, where the plugin refuses a guessable SECRET_KEY as its key source.
    config = {
        "TESTING": True,
        "SECRET_KEY": "host-test-secret-5c0e9a7f3b1d48e2a6f0c4b8d2e7a913",
        "DATABASE_URL": host_database_url,
        "REDIS_URL": redis_url,
        **host_config,
    }
    app = create_app(config)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture()
def host_client(host_app: Flask) -> FlaskClient:
    return host_app.test_client()


def login_as(client: FlaskClient, username: str) -> None:
    """Logs in through the pick-a-user form, with the token the page carries."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "username": username})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with client.session_transaction() as session:
        assert session.get("_user_id"), f"login as {username} did not stick"


@pytest.fixture()
def login() -> Callable[[FlaskClient, str], None]:
    return login_as


def worker_env(app: Flask, config: Mapping[str, Any]) -> dict[str, str]:
    """The app's config as environment variables for a child process.

    Plugin objects cannot cross a process boundary; only dotted paths in
    ``APERTURE_PLUGINS`` do, so jobs must be importable functions anyway.
    """
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DEMO_AUTO_SEED": "0",
        "PYTHONUNBUFFERED": "1",
    }
    for key, value in config.items():
        if key == "APERTURE_PLUGINS":
            env[key] = ",".join(p for p in value if isinstance(p, str))
        elif isinstance(value, bool):
            env[key] = "1" if value else "0"
        elif isinstance(value, str | int | float):
            env[key] = str(value)
    return env


def wait_for_workers(
    app: Flask, process: ManagedProcess, count: int = 1, timeout: float = WORKER_READY_TIMEOUT
) -> None:
    from rq import Worker

    redis = app.extensions["aperture_host"].redis
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"worker exited early:\n{process.output()[-3000:]}")
        if len(Worker.all(connection=redis)) >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"worker not ready after {timeout}s:\n{process.output()[-3000:]}")


def start_worker(
    app: Flask, config: Mapping[str, Any], log_dir: Path, *args: str
) -> ManagedProcess:
    argv = python_module(
        "flask", "--app", "harness.reference_host:create_app", "demo", "worker", *args
    )
    return ManagedProcess("worker", argv, env=worker_env(app, config), log_dir=log_dir).start()


@pytest.fixture()
def host_worker(
    host_app: Flask, host_config: dict[str, Any], tmp_path: Path
) -> Iterator[ManagedProcess]:
    """A real long-running ``flask demo worker`` on the host's database and Redis."""
    process = start_worker(host_app, host_config, tmp_path / "logs")
    try:
        wait_for_workers(host_app, process)
        yield process
    finally:
        process.stop()


def wait_for_run(
    app: Flask, run_id: int, timeout: float = 30.0, process: ManagedProcess | None = None
) -> Any:
    """Waits until a job run has finished; returns the ``JobRun`` row (detached)."""
    from harness.reference_host.db import db
    from harness.reference_host.models import JobRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            run = db.session.get(JobRun, run_id)
            if run is not None and run.finished:
                db.session.expunge(run)
                return run
        time.sleep(0.1)
    logs = f"\nworker log:\n{process.output()[-3000:]}" if process else ""
    raise TimeoutError(f"job run {run_id} did not finish in {timeout}s{logs}")

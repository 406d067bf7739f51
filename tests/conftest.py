"""Fixtures shared by the whole suite. Each area keeps its own fixtures in a module
listed here, so that the files stay small and owned by one concern."""

from __future__ import annotations

import pytest

from harness.services import RedisServer

pytest_plugins = [
    "tests.fixtures_sandbox",
    "tests.fixtures_host",
    "tests.fixtures_browser",
    "tests.fixtures_hostile",
    "tests.log_secrets",
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_databases`` run on SQLite, on PostgreSQL and on MariaDB."""
    if (
        metafunc.definition.get_closest_marker("both_databases")
        and "database" in metafunc.fixturenames
    ):
        metafunc.parametrize("database", ["sqlite", "postgresql", "mariadb"], indirect=True)


@pytest.fixture(scope="session")
def redis_server():
    """One real redis-server for the session; tests flush it, they never share keys."""
    with RedisServer() as server:
        yield server


@pytest.fixture()
def redis_url(redis_server):
    import redis

    conn = redis.Redis.from_url(redis_server.url)
    conn.flushall()
    yield redis_server.url
    conn.close()

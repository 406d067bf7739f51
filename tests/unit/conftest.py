"""The unit tier runs with no Redis, database server, sandbox, browser or network, in
seconds (``pytest tests/unit``). A test here that asks for one of the suite's service
fixtures belongs to another tier: collection fails and says which."""

from __future__ import annotations

import pytest

SERVICE_FIXTURES = frozenset(
    {
        "redis_server",
        "redis_url",
        "sandbox_server",
        "sandbox",
        "host_app",
        "host_client",
        "host_worker",
        "postgres_server",
        "database",
        "browser",
        "page",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/" not in item.nodeid:
            continue
        used = SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if used:
            raise pytest.UsageError(
                f"{item.nodeid} uses {', '.join(sorted(used))}: the unit tier needs no "
                "services; move it to another tier"
            )

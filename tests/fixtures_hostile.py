"""The hostile-Trakt server (``harness.hostile_trakt``) for the tests that point the
plugin at it, and the second listener that stands for "another host"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.hostile_trakt import HostileTrakt, RecordingListener
from tests.connect_helpers import trakt_host_config


@pytest.fixture(scope="session")
def listener() -> Iterator[RecordingListener]:
    server = RecordingListener().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hostile_server(sandbox_server) -> Iterator[HostileTrakt]:
    server = HostileTrakt(sandbox_server.url).start()
    yield server
    server.stop()


@pytest.fixture()
def hostile(hostile_server, listener, sandbox) -> Iterator[HostileTrakt]:
    """The hostile server with nothing armed and nothing heard by the other host."""
    hostile_server.disarm()
    listener.requests.clear()
    yield hostile_server
    hostile_server.disarm()


def hostile_host_config(hostile_server: HostileTrakt, sandbox_server: Any) -> dict[str, Any]:
    """The host's config with the plugin's API and auth URLs on the hostile server: a
    module's ``host_config`` fixture returns it to put all of its tests behind it."""
    config = trakt_host_config(sandbox_server)
    config["APERTURE_TRAKT_API_URL"] = config["APERTURE_TRAKT_AUTH_URL"] = hostile_server.url
    return config

"""Fixtures for the Trakt sandbox: one server per session, a clean world per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask

from harness.services import WSGIServerThread
from harness.trakt_sandbox import create_app
from harness.trakt_sandbox.control_client import SandboxControl, api_headers

__all__ = ["SandboxServer", "api_headers", "sandbox", "sandbox_server"]


@dataclass
class SandboxServer:
    url: str  # base URL, no trailing slash: both APERTURE_TRAKT_API_URL and ..._AUTH_URL
    app: Flask
    thread: WSGIServerThread


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    app = create_app()
    with WSGIServerThread(app) as thread:
        yield SandboxServer(thread.url, app, thread)


@pytest.fixture()
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxControl]:
    control = SandboxControl(sandbox_server.url)
    control.reset()
    yield control
    control.http.close()

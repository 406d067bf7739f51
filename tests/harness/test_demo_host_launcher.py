"""The demo launcher starts every part and stops them all again (``--check``)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.services import REPO, free_port


def sandbox_ready() -> bool:
    try:
        return hasattr(importlib.import_module("harness.trakt_sandbox"), "create_app")
    except ImportError:
        return False


def demo_argv(state_dir: Path, *options: str) -> list[str]:
    """``python -m harness.demo`` (what ``make demo`` runs) on free ports, kept in
    ``state_dir``."""
    return [
        sys.executable,
        "-m",
        "harness.demo",
        *options,
        "--dir",
        str(state_dir),
        "--port",
        str(free_port()),
        "--sandbox-port",
        str(free_port()),
    ]


@pytest.mark.slow
@pytest.mark.skipif(not sandbox_ready(), reason="the Trakt sandbox is not written yet")
def test_demo_check_starts_everything_and_stops_cleanly(tmp_path):
    result = subprocess.run(
        demo_argv(tmp_path, "--check"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: host http://localhost:")
    logs = {p.name for p in (tmp_path / "logs").iterdir()}
    assert logs == {"host.log", "sandbox.log", "worker.log", "scheduler.log"}
    assert 'GET /login HTTP/1.1" 200' in (tmp_path / "logs" / "host.log").read_text()
    worker_log = (tmp_path / "logs" / "worker.log").read_text()
    assert "warm shut down requested" in worker_log  # stopped, not killed
    assert "Traceback" not in worker_log + (tmp_path / "logs" / "scheduler.log").read_text()

    # The settings a `flask trakt …` in another terminal needs, readable by the owner only;
    # with them the command opens the demo's database (alice is one of its users).
    env_file = tmp_path / "demo.env"
    assert env_file.stat().st_mode & 0o077 == 0
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert env["FLASK_APP"] == "harness.reference_host:create_app"
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'demo.db'}"
    status = subprocess.run(
        [sys.executable, "-m", "flask", "trakt", "status", "--user", "alice"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.strip() == "no Trakt connections for alice"


def test_the_host_serves_a_favicon(host_client):
    answer = host_client.get("/favicon.ico")
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"

"""The demo launcher starts every part and stops them all again (``--check``)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from harness.services import REPO, free_port


def sandbox_ready() -> bool:
    try:
        return hasattr(importlib.import_module("harness.trakt_sandbox"), "create_app")
    except ImportError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sandbox_ready(), reason="the Trakt sandbox is not written yet")
def test_demo_check_starts_everything_and_stops_cleanly(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.demo",
            "--check",
            "--dir",
            str(tmp_path),
            "--port",
            str(free_port()),
            "--sandbox-port",
            str(free_port()),
        ],
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

"""Two OS processes refresh the same user's token at once: Trakt sees one refresh.

Trakt's refresh tokens are single-use, so a second refresh with the same token is
``invalid_grant`` and, without the per-user lock in ``tokens.access_token``, one of the
two processes would end up with a dead grant (CONTRACT 4.4). The contenders are real
processes (``tests/refresh_probe.py``) on the host's SQLite file and the test's Redis,
released together by one Redis push; the sandbox holds ``POST /oauth/token`` for
``DELAY_MS`` so the second one surely arrives while the first holds the lock.

The negative control runs the same two processes against ``oauth.refresh`` without the
lock and shows the harness then produces two calls and a dead grant, so the first test's
"exactly one call" is a real check, not a consequence of the processes taking turns.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from aperture_trakt_plugin.accounts import tokens
from aperture_trakt_plugin.trakt.oauth import TokenPair
from harness.services import ManagedProcess, python_module
from tests.connect_helpers import aged
from tests.fixtures_host import worker_env

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
DELAY_MS = 500
DELAY_S = DELAY_MS / 1000
EXPIRES_SOON = 3600  # left of a 24-hour token: inside the refresh margin (6 hours)
READY_TIMEOUT = 30  # seconds for a probe to build the host app
RESULT_TIMEOUT = 30  # seconds from "go" to both probes having answered


@pytest.fixture()
def host_config(sandbox_server) -> dict[str, Any]:
    return {
        "APERTURE_TRAKT_API_URL": sandbox_server.url,
        "APERTURE_TRAKT_AUTH_URL": sandbox_server.url,
    }


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture()
def alice(host_app: Flask, sandbox) -> dict[str, Any]:
    """Credentials set, and alice connected with a token that is due for a refresh."""
    state = host_app.extensions["aperture_trakt"]
    with host_app.app_context():
        state.settings.save({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, None)
        user_id = host_app.extensions["aperture_host"].get_user_by_name("alice").id
        issued = aged(sandbox.issue_tokens("alice_trakt", expires_in=EXPIRES_SOON), EXPIRES_SOON)
        pair = TokenPair.from_response(issued)
        tokens.store().set(user_id, pair, "alice_trakt", "alice_trakt")
    sandbox.fault("POST", "/oauth/token", count=2, delay_ms=DELAY_MS)
    sandbox.clear_requests()
    return {"user_id": user_id, "issued": issued}


def probe_result(process: ManagedProcess) -> dict[str, Any]:
    try:
        process.proc.wait(RESULT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"{process.name} did not finish:\n{process.output()[-3000:]}"
        ) from None
    lines = [line for line in process.output().splitlines() if line.startswith('{"name"')]
    assert process.proc.returncode == 0 and lines, process.output()[-3000:]
    return json.loads(lines[-1])


def race(
    host_app: Flask, host_config: dict[str, Any], log_dir: Path, user_id: int, *extra: str
) -> list[dict[str, Any]]:
    """Starts two probes, waits until both are ready, releases them at once; their results."""
    redis = host_app.extensions["aperture_host"].redis
    run = uuid.uuid4().hex
    ready, go = f"refresh-probe:{run}:ready", f"refresh-probe:{run}:go"
    env = worker_env(host_app, host_config)
    processes = [
        ManagedProcess(
            f"probe-{name}",
            python_module(
                "tests.refresh_probe",
                "--user-id",
                str(user_id),
                "--name",
                name,
                "--ready-key",
                ready,
                "--go-key",
                go,
                *extra,
            ),
            env=env,
            log_dir=log_dir,
        ).start()
        for name in ("a", "b")
    ]
    try:
        for _ in processes:
            if redis.blpop([ready], timeout=READY_TIMEOUT) is None:
                logs = "\n".join(p.output()[-2000:] for p in processes)
                raise AssertionError(f"a probe never became ready:\n{logs}")
        redis.rpush(go, *["go"] * len(processes))
        return [probe_result(process) for process in processes]
    finally:
        for process in processes:
            process.stop()


def test_two_processes_refreshing_at_once_make_one_call_and_share_a_working_token(
    host_app, host_config, tmp_path, sandbox, alice
):
    results = race(host_app, host_config, tmp_path / "logs", alice["user_id"])

    assert [r["error"] for r in results] == [None, None], results
    calls = sandbox.requests(method="POST", path="/oauth/token")
    assert [c["status"] for c in calls] == [200], calls
    assert results[0]["sha256"] == results[1]["sha256"]
    refreshers = [r for r in results if r["refreshed"]]
    assert len(refreshers) == 1, results

    # The pair in the database is the one both got, and it is new.
    with host_app.app_context():
        conn = tokens.store().get(alice["user_id"])
        new_access, new_refresh = conn.access_token, conn.refresh_token
        assert not conn.needs_reconnect
    assert sha256(new_access) == results[0]["sha256"]
    assert new_access != alice["issued"]["access_token"]
    assert new_refresh != alice["issued"]["refresh_token"]

    profile = sandbox.api("GET", "/users/settings", token=new_access)
    assert profile.status_code == 200
    assert profile.json()["user"]["username"] == "alice_trakt"

    reused = sandbox.http.post(
        f"{sandbox.url}/oauth/token",
        timeout=10,
        json={
            "grant_type": "refresh_token",
            "refresh_token": alice["issued"]["refresh_token"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
        },
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"

    # The race was real: both started together, and the one that did not call Trakt
    # was held until the caller's delayed refresh had finished (it waited on the lock).
    (refresher,) = refreshers
    (waiter,) = [r for r in results if not r["refreshed"]]
    skew = abs(refresher["started"] - waiter["started"])
    assert skew < DELAY_S / 2, results
    assert waiter["finished"] >= refresher["started"] + DELAY_S, results
    assert waiter["elapsed"] >= DELAY_S - skew, results


def test_negative_control_without_the_lock_the_same_race_burns_the_grant(
    host_app, host_config, tmp_path, sandbox, alice
):
    """The same harness, calling ``oauth.refresh`` directly: two calls, one dead grant."""
    results = race(host_app, host_config, tmp_path / "logs", alice["user_id"], "--unlocked")

    calls = sandbox.requests(method="POST", path="/oauth/token")
    assert sorted(c["status"] for c in calls) == [200, 400], calls
    assert sorted(str(r["error"]) for r in results) == ["InvalidGrant", "None"], results
    skew = abs(results[0]["started"] - results[1]["started"])
    assert skew < DELAY_S / 2, results

"""``flask trakt doctor`` with every part there, and with each part missing in turn.

Real parts only: a ``flask demo worker`` process on the test's Redis, a ``flask demo
scheduler`` (rq-scheduler) process, the Trakt sandbox behind the app's credentials, the
plugin's migrations on the host's database. Each test takes one part away (stops the
worker, never starts the scheduler, removes a schedule, points at a Redis that is not
there, leaves the tables a revision behind, deletes the app on Trakt) and reads the
verdict and exit status a monitoring check would.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from rq_scheduler import Scheduler

from aperture_trakt_plugin.queueing import scheduling
from aperture_trakt_plugin.storage import migrate
from aperture_trakt_plugin.usecases import health
from tests.connect_helpers import CLIENT_ID, configure_trakt, flask_command

pytestmark = [pytest.mark.trakt]

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def doctor(host_app, *args: str) -> tuple[int, dict[str, Any]]:
    result = host_app.test_cli_runner().invoke(args=["trakt", "doctor", "--json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output)


def by_part(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    parts: dict[str, list[dict[str, Any]]] = {}
    for check in report["checks"]:
        parts.setdefault(check["part"], []).append(check)
    return parts


def statuses(report: dict[str, Any]) -> dict[str, set[str]]:
    return {part: {c["status"] for c in checks} for part, checks in by_part(report).items()}


@pytest.fixture()
def configured(host_app, sandbox):
    configure_trakt(host_app, sandbox)
    return host_app


@pytest.fixture()
def worker(configured, host_worker):
    """The shared ``host_worker``, started once the app's credentials are saved."""
    return host_worker


@pytest.fixture()
def scheduler(configured, host_config, tmp_path):
    process = flask_command(
        configured, host_config, tmp_path / "logs", "demo", "scheduler", "--interval", "1"
    )
    redis = configured.extensions["aperture_host"].redis
    deadline = time.monotonic() + 20
    while not list(redis.scan_iter(health.SCHEDULER_KEYS)):
        assert process.alive() and time.monotonic() < deadline, process.output()[-2000:]
        time.sleep(0.1)
    try:
        yield process
    finally:
        process.stop()


def test_all_present_is_healthy(configured, worker, scheduler):
    code, report = doctor(configured)
    assert (code, report["state"]) == (0, "healthy"), report
    assert statuses(report) == {
        part: {"ok"}
        for part in (
            "redis",
            "migrations",
            "credentials",
            "workers",
            "scheduler",
            "schedules",
            "queue",
            "failed",
        )
    }
    credentials = by_part(report)["credentials"][0]
    assert credentials["message"] == health.MSG_CREDENTIALS_OK  # asked Trakt itself
    schedules = {c["facts"]["job"]: c for c in by_part(report)["schedules"]}
    assert set(schedules) == {"sync-trakt-ratings", scheduling.REFRESH_JOB}
    assert all(c["facts"]["next_run"] for c in schedules.values())  # from rq-scheduler


def test_the_plain_report_names_each_part_and_its_fix(configured, scheduler):
    result = configured.test_cli_runner().invoke(args=["trakt", "doctor"])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    no_worker = health.MSG_NO_WORKER.format(queue="trakt")
    assert any(line.startswith("[fail] workers") and no_worker in line for line in lines)
    assert f"fix: {health.MSG_NO_WORKER_FIX.format(queue='trakt')}" in result.output
    assert lines[-1] == "Trakt integration: broken"


def test_no_worker_is_broken(configured, scheduler):
    code, report = doctor(configured)
    assert (code, report["state"]) == (2, "broken")
    assert statuses(report)["workers"] == {"fail"}
    assert statuses(report)["scheduler"] == {"ok"}


def test_a_stopped_worker_is_noticed(configured, worker, scheduler):
    worker.stop()  # RQ unregisters a worker that stops cleanly
    code, report = doctor(configured)
    assert code == 2 and statuses(report)["workers"] == {"fail"}


def test_no_scheduler_is_degraded(configured, worker):
    code, report = doctor(configured)
    assert (code, report["state"]) == (1, "degraded")
    assert statuses(report)["scheduler"] == {"warn"}
    # The entries are there, and "next run" alone would look fine: the scheduler check is
    # what tells nobody acts on them.
    assert statuses(report)["schedules"] == {"ok"}


def test_a_removed_schedule_is_degraded(configured, worker, scheduler):
    redis = configured.extensions["aperture_host"].redis
    Scheduler(connection=redis).cancel(scheduling.SCHEDULE_ID.format(name="sync-trakt-ratings"))
    code, report = doctor(configured)
    assert code == 1
    missing = [c for c in by_part(report)["schedules"] if c["status"] == "warn"]
    assert [c["facts"]["job"] for c in missing] == ["sync-trakt-ratings"]
    assert missing[0]["message"] == health.MSG_SCHEDULE_MISSING.format(name="sync-trakt-ratings")


def test_redis_down_is_broken(configured, host_config, tmp_path):
    process = flask_command(
        configured,
        {**host_config, "REDIS_URL": DEAD_REDIS},
        tmp_path / "logs",
        "trakt",
        "doctor",
        "--json",
        "--offline",
    )
    assert process.proc.wait(60) == 2, process.output()
    output = process.output()
    report = json.loads(output[output.index("{") :])
    assert statuses(report)["redis"] == {"fail"}
    assert all(
        c["message"] == health.MSG_NOT_CHECKED
        for part in ("workers", "scheduler", "queue", "failed")
        for c in by_part(report)[part]
    )
    assert statuses(report)["migrations"] == {"ok"}  # what can be checked still is


def test_tables_behind_their_head_are_broken(configured, worker, scheduler):
    with configured.app_context():
        engine = configured.extensions["aperture_host"].db.engine
    head = migrate.head()
    migrate.downgrade(engine, "-1")
    try:
        code, report = doctor(configured, "--offline")
        assert code == 2
        (check,) = by_part(report)["migrations"]
        assert check["status"] == "fail" and check["fix"] == health.MSG_MIGRATIONS_FIX
        assert check["facts"]["head"] == head and check["facts"]["current"] != head
    finally:
        migrate.upgrade(engine)


def test_credentials_trakt_refuses_are_broken(configured, worker, scheduler, sandbox):
    sandbox.delete_app(CLIENT_ID)
    code, report = doctor(configured)
    assert code == 2
    (check,) = by_part(report)["credentials"]
    assert check["status"] == "fail" and check["message"].startswith("Invalid credentials")
    # Without asking Trakt, the server has no verdict of its own yet: set, not checked.
    code, report = doctor(configured, "--offline")
    assert code == 0
    assert by_part(report)["credentials"][0]["message"] == health.MSG_CREDENTIALS_SET


def test_no_credentials_is_broken(host_app, sandbox):
    code, report = doctor(host_app, "--offline")
    assert code == 2
    assert by_part(report)["credentials"][0]["message"] == health.MSG_NO_CREDENTIALS


# --- the panel on Admin → Jobs -----------------------------------------------------------


def panel(host_client, login) -> tuple[str, dict[str, str]]:
    login(host_client, "admin")
    html = host_client.get("/admin/jobs").get_data(as_text=True)
    state = re.search(r'<span id="trakt-health-state"[^>]*>(\w+)</span>', html)
    assert state is not None, html
    parts = dict(re.findall(r'data-part="(\w+)" data-status="(\w+)"', html))
    return state.group(1), parts


def test_the_jobs_screen_shows_the_same_health(configured, worker, scheduler, host_client, login):
    state, parts = panel(host_client, login)
    assert state == "healthy" and set(parts.values()) == {"ok"}
    assert {"redis", "workers", "scheduler", "schedules", "migrations", "credentials"} <= set(parts)


def test_the_jobs_screen_names_what_is_missing(configured, host_client, login, sandbox):
    state, parts = panel(host_client, login)
    assert state == "broken"
    assert parts["workers"] == "fail" and parts["scheduler"] == "warn"
    assert len(sandbox.requests()) == 0  # a page view asks Trakt nothing


def test_the_jobs_screen_shows_health_before_anything_is_set_up(host_app, host_client, login):
    state, parts = panel(host_client, login)
    assert state == "broken" and parts["credentials"] == "fail"

"""``flask trakt sync``: what an admin (or a cron script) sees and gets from the terminal.

One summary line per user, ``--enqueue`` handing the work to the workers without touching
Trakt, ``--dry-run`` touching nothing, and exit codes a script can rely on: 0 when every
user synced (or was queued), 1 when one failed, was blocked or could not be queued, 2 for
a wrong command line. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rq.job import Job

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.storage.models import TraktConnection
from aperture_trakt_plugin.trakt.wire import trakt_time
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import (
    configure_trakt,
    connect_with_tokens,
    flask_command,
    run_trakt_jobs,
    trakt_queue,
    user_id,
)
from tests.sync_helpers import split_progress

pytestmark = [pytest.mark.trakt, pytest.mark.both_databases]

MATRIX, FIGHT_CLUB = 603, 550
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture()
def users(host_app, sandbox):
    """alice and bob connected and synced once (nothing to sync yet); then alice rates
    Fight Club on Trakt, bob does nothing."""
    configure_trakt(host_app, sandbox)
    for name in ("alice", "bob"):
        connect_with_tokens(host_app, sandbox, name, f"{name}_trakt")
        with host_app.app_context():
            assert sync.sync_user_ratings(user_id(host_app, name)).status == "synced"
    trakt_queue(host_app).empty()  # the first syncs the connections queued: done above
    token = sandbox.issue_tokens("alice_trakt")["access_token"]
    sandbox.advance_clock(2)
    response = sandbox.api(
        "POST",
        "/sync/ratings",
        token=token,
        json={"movies": [{"rating": 9, "rated_at": trakt_time(T0), "ids": {"tmdb": FIGHT_CLUB}}]},
    )
    assert response.status_code == 201, response.text
    sandbox.advance_clock(2)
    sandbox.clear_requests()


def trakt_sync(host_app, *args: str):
    return host_app.test_cli_runner().invoke(args=["trakt", "sync", *args])


def host_ratings(host_app, name: str) -> dict[str, int]:
    with host_app.app_context():
        host = host_app.extensions["aperture_host"]
        return {r.media.title: r.value for r in host.list_ratings(user_id(host_app, name))}


def plugin_state(host_app) -> list[tuple]:
    """What a sync would change on the plugin's side: each connection's marker and error."""
    with host_app.app_context():
        db = host_app.extensions["aperture_host"].db
        return [
            (c.user_id, c.ratings_marker, c.last_error, c.blocked_reason)
            for c in db.session.query(TraktConnection).order_by(TraktConnection.user_id)
        ]


def test_sync_all_prints_a_summary_per_user(host_app, host_config, users, sandbox, tmp_path):
    """Run as an admin would, in its own process: alice's Trakt rating arrives, bob costs
    one call."""
    process = flask_command(host_app, host_config, tmp_path / "logs", "trakt", "sync", "--all")
    assert process.proc.wait(60) == 0, process.output()
    output = process.output().splitlines()
    reports, alice = split_progress(output, "alice")
    assert reports[0] == "alice: reading Trakt's ratings: page 1 of 1"  # not a terminal: lines
    lines = [line.split(" (")[0] for line in alice + split_progress(output, "bob")[1]]
    assert lines == [
        "alice: synced: 0 pushed, 0 removed on Trakt, 1 pulled, 0 removed here, 0 conflicts, "
        "0 not found on Trakt, 0 waiting for the library",
        "bob: unchanged: nothing changed on Trakt",
    ], process.output()
    assert host_ratings(host_app, "alice") == {"Fight Club": 9}
    assert len(sandbox.requests(path="/sync/last_activities")) >= 2


def test_enqueue_queues_one_job_per_user_and_calls_nobody(host_app, users, sandbox):
    result = trakt_sync(host_app, "--all", "--enqueue")
    alice, bob = user_id(host_app, "alice"), user_id(host_app, "bob")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"alice: queued as {jobs.user_sync_job_id(alice)}",
        f"bob: queued as {jobs.user_sync_job_id(bob)}",
    ]
    assert sandbox.requests() == []  # the foreground never talked to Trakt
    assert host_ratings(host_app, "alice") == {}
    queue = trakt_queue(host_app)
    assert queue.job_ids == [jobs.user_sync_job_id(alice), jobs.user_sync_job_id(bob)]
    job = Job.fetch(jobs.user_sync_job_id(alice), connection=queue.connection)
    assert (job.func_name, job.args) == (
        "aperture_trakt_plugin.usecases.jobs.sync_user",
        (alice, None, False),
    )

    again = trakt_sync(host_app, "--user", "alice", "--enqueue", "--force")
    assert again.output.strip() == f"alice: queued as {jobs.user_sync_job_id(alice)}"
    assert len(queue) == 2  # still waiting: the queued job covers the new request

    run_trakt_jobs(host_app)
    assert host_ratings(host_app, "alice") == {"Fight Club": 9}
    assert len(queue) == 0


def test_dry_run_prints_the_plan_and_changes_nothing(host_app, users, sandbox):
    with host_app.app_context():
        host = host_app.extensions["aperture_host"]
        bob = user_id(host_app, "bob")
        matrix = host.find_media("movie", ExternalIds(tmdb=MATRIX)).item_id
        host.apply_rating(bob, matrix, 4, T0, "aperture")
    trakt_queue(host_app).empty()  # bob's push waits in the outbox
    before = (plugin_state(host_app), sandbox.ratings("alice_trakt"), sandbox.ratings("bob_trakt"))

    result = trakt_sync(host_app, "--all", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "alice: this server: movie Fight Club set to 9" in result.output
    assert "bob: Trakt: movie The Matrix set to 4" in result.output
    assert "alice: dry-run: 0 pushed, 0 removed on Trakt, 1 pulled" in result.output
    assert [r["method"] for r in sandbox.requests()] == ["GET"] * len(sandbox.requests())
    assert (
        plugin_state(host_app),
        sandbox.ratings("alice_trakt"),
        sandbox.ratings("bob_trakt"),
    ) == before
    assert host_ratings(host_app, "alice") == {} and host_ratings(host_app, "bob") == {
        "The Matrix": 4
    }

    done = trakt_sync(host_app, "--all")  # the real one still finds all of it to do
    assert done.exit_code == 0, done.output
    assert host_ratings(host_app, "alice") == {"Fight Club": 9}
    assert {r["movie"]["ids"]["tmdb"]: r["rating"] for r in sandbox.ratings("bob_trakt")} == {
        MATRIX: 4
    }


def test_exit_codes(host_app, host_config, users, sandbox, tmp_path):
    for args in ([], ["--all", "--user", "alice"]):
        wrong = trakt_sync(host_app, *args)
        assert wrong.exit_code == 2 and "give either --user NAME or --all" in wrong.output
    unknown = trakt_sync(host_app, "--user", "nobody")
    assert unknown.exit_code == 1 and "no user named 'nobody'" in unknown.output

    sandbox.fault("GET", "/sync/last_activities", 503, count=3)  # past the quick retries
    failed = trakt_sync(host_app, "--all")
    assert failed.exit_code == 1
    assert failed.stderr.strip() == (
        "alice: failed: GET /sync/last_activities: Trakt is having trouble (503)"
    )
    assert "bob: unchanged" in failed.stdout  # one user's failure does not stop the others
    assert trakt_sync(host_app, "--all").exit_code == 0

    process = flask_command(
        host_app,
        {**host_config, "REDIS_URL": DEAD_REDIS},
        tmp_path / "logs",
        "trakt",
        "sync",
        "--all",
        "--enqueue",
    )
    assert process.proc.wait(60) == 1, process.output()
    assert "alice: could not queue (Redis unreachable)" in process.output()


def test_a_blocked_user_fails_the_command(host_app, users, sandbox):
    movies = [
        m["ids"]["tmdb"]
        for m in sandbox.catalogue()["movies"]
        if m.get("in_library") and m["ids"]["tmdb"] != FIGHT_CLUB
    ][:20]
    token = sandbox.issue_tokens("bob_trakt")["access_token"]
    for path, body in (
        (
            "/sync/ratings",
            [{"rating": 6, "rated_at": trakt_time(T0), "ids": {"tmdb": tmdb}} for tmdb in movies],
        ),
        ("/sync/ratings/remove", [{"ids": {"tmdb": tmdb}} for tmdb in movies]),
    ):
        sandbox.advance_clock(2)
        assert sandbox.api("POST", path, token=token, json={"movies": body}).ok
        if path == "/sync/ratings":
            assert trakt_sync(host_app, "--user", "bob").exit_code == 0
    blocked = trakt_sync(host_app, "--all")
    assert blocked.exit_code == 1, blocked.output
    assert "bob: blocked: this sync would remove 20 of the 20 ratings" in blocked.output
    assert "alice: synced" in blocked.output
    assert len(host_ratings(host_app, "bob")) == 20
    status = host_app.test_cli_runner().invoke(args=["trakt", "status", "--json", "--user", "bob"])
    status = json.loads(status.output)
    assert status[0]["blocked"].startswith("this sync would remove 20 of the 20 ratings")

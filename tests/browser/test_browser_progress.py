"""A long sync's progress on Admin → Jobs, in a real browser, and the health panel.

Alice has 1,200 ratings on the server that Trakt has not seen: three batches of writes,
which the plugin spaces three seconds apart here (``APERTURE_TRAKT_RATE_LIMITS``), so the
run takes long enough to be watched. An admin presses "Run now" on the rating sync; a
real ``flask demo worker`` runs it; the run's page, reloaded as an admin would, shows
the bar part-way with the stage in the log, then full when every write went.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from aperture_trakt_plugin.host import RatingWrite
from harness.services import WSGIServerThread
from tests.connect_helpers import configure_trakt, connect_with_tokens, trakt_queue, user_id
from tests.fixtures_host import start_worker, wait_for_workers

pytestmark = [pytest.mark.browser, pytest.mark.trakt]

RATINGS = 1200
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WATCH_TIMEOUT = 60.0


@pytest.fixture()
def host_config(host_config):
    return {
        **host_config,
        "APERTURE_TRAKT_RATE_LIMITS": json.dumps({"user_write": "1 per 3 seconds"}),
    }


@pytest.fixture()
def served_host(host_app):
    with WSGIServerThread(host_app) as server:
        host_app.config["PUBLIC_BASE_URL"] = server.url
        yield server


def many_ratings(host_app, name: str) -> None:
    """``RATINGS`` of the library's titles, rated on the server before anyone syncs."""
    from harness.reference_host.db import db
    from harness.reference_host.models import MediaItem

    uid = user_id(host_app, name)
    with host_app.app_context():
        items = db.session.scalars(
            select(MediaItem.id)
            .where(MediaItem.kind.in_(("movie", "episode")))
            .order_by(MediaItem.id)
            .limit(RATINGS)
        ).all()
        writes = [RatingWrite(str(item), 1 + n % 10, T0) for n, item in enumerate(items)]
        host_app.extensions["aperture_host"].apply_ratings(uid, writes, "aperture")
    trakt_queue(host_app).empty()  # the push the hook queued: the run is to take them


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.click(f"button[value='{username}']")
    page.wait_for_url(lambda url: "/login" not in url)


def bar(page) -> tuple[int, int] | None:
    found = page.locator("#run-progress")
    if not found.count():
        return None
    return int(found.get_attribute("value")), int(found.get_attribute("max"))


def test_a_long_sync_shows_its_progress_on_the_jobs_screen(
    page, served_host, host_app, host_config, sandbox, tmp_path
):
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    many_ratings(host_app, "alice")
    worker = start_worker(host_app, host_config, tmp_path / "logs")
    try:
        wait_for_workers(host_app, worker)
        base = served_host.url
        log_in(page, base, "admin")
        page.goto(f"{base}/admin/jobs")
        health = page.locator("#trakt-health")
        assert health.is_visible()
        assert health.locator("[data-part='workers']").get_attribute("data-status") == "ok"
        page.locator("form[action$='/jobs/sync-trakt-ratings/run'] button").click()
        page.wait_for_url(re.compile(r"/admin/jobs/runs/\d+$"))
        run_page = page.url
        run_id = run_page.rsplit("/", 1)[1]

        seen_part_way, seen_in_list = None, None
        deadline = time.monotonic() + WATCH_TIMEOUT
        while time.monotonic() < deadline:
            page.reload()
            shown, log = bar(page), page.inner_text("#run-log")
            if shown and 0 < shown[0] < shown[1] and "writes sent to Trakt" in log:
                seen_part_way = (shown, log)
                page.goto(f"{base}/admin/jobs")  # the list of runs says the same meanwhile
                column = page.inner_text(f"#run-{run_id} .run-progress").strip()
                seen_in_list = column if column != f"{RATINGS}/{RATINGS}" else seen_in_list
                page.goto(run_page)
            if "alice: synced" in log:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the run did not finish:\n{worker.output()[-3000:]}")
        assert seen_part_way is not None, "the bar was never seen part-way"
        (done, total), log_then = seen_part_way
        assert total == RATINGS and done in (500, 1000), seen_part_way
        assert f"alice: writes sent to Trakt: {done:,} of {total:,}" in log_then
        assert seen_in_list in (f"500/{RATINGS}", f"1000/{RATINGS}"), seen_in_list

        log = page.inner_text("#run-log")
        assert "alice: reading Trakt's ratings: page 1 of" in log
        assert f"alice: writes sent to Trakt: {RATINGS:,} of {RATINGS:,}" in log
        assert "waiting for Trakt's write spacing" in log
        assert bar(page) == (RATINGS, RATINGS)
        page.goto(f"{base}/admin/jobs")
        assert page.inner_text(f"#run-{run_id} .run-progress").strip() == f"{RATINGS}/{RATINGS}"
        assert "alice: synced: 1,200 pushed" in log or "alice: synced: 1200 pushed" in log
    finally:
        worker.stop()
    on_trakt = sandbox.api(
        "GET", "/sync/ratings", token=sandbox.issue_tokens("alice_trakt")["access_token"]
    ).json()
    assert len(on_trakt) == RATINGS

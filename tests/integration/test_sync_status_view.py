"""The "why didn't this sync?" view: on the user's profile card and on the admin pages.

Real host, real sandbox, real Redis: the states shown are made the way production makes
them (a sync against the sandbox, a rating Trakt does not know, a retry put into
rq-scheduler under the id ``retries`` uses), and the pages are read through the host.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from rq_scheduler import Scheduler

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.queueing import retries
from aperture_trakt_plugin.usecases import jobs
from tests.connect_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    PROFILE,
    page,
    text_of,
    user_id,
)
from tests.fixtures_host import login_as
from tests.sync_helpers import (
    RASHOMON,
    fresh_connection,
    rate_on_trakt,
    sandbox_now,
    services,
)

pytestmark = [pytest.mark.trakt]

USER, TRAKT_USER = "alice", "alice_trakt"
STATUS = "/plugins/trakt/admin/status"
INTEGRATIONS = "/admin/settings/integrations"
JOBS = "/admin/jobs"
PROBLEM = "Invalid credentials: Trakt rejected the Client Secret for this Client ID."


@pytest.fixture()
def alice(host_app, sandbox) -> int:
    """Alice, connected as alice_trakt, after her first (empty) sync."""
    return fresh_connection(host_app, sandbox, USER, TRAKT_USER)


def client_as(host_app, name: str) -> FlaskClient:
    client = host_app.test_client()
    login_as(client, name)
    return client


def headline(html: str) -> str | None:
    return text_of(html, "trakt-sync-headline")


def secrets_of(host_app, sandbox, name: str) -> list[str]:
    """Everything that must never reach a page: the app's secret and the user's tokens."""
    from aperture_trakt_plugin.accounts import tokens

    with host_app.app_context():
        conn = tokens.store().get(user_id(host_app, name))
        found = [CLIENT_SECRET, CLIENT_ID]
        if conn is not None:
            found += [conn.access_token, conn.refresh_token or CLIENT_SECRET]
    return found


def test_a_fresh_connection_after_its_sync_is_in_sync_with_the_next_run(alice, host_app):
    html = page(client_as(host_app, USER))
    assert 'id="trakt-sync-status"' in html and "<summary>Sync status" in html
    line = headline(html)
    assert line is not None and line.startswith("In sync; next run at "), line
    assert text_of(html, "trakt-status-queued-until") == "nothing waiting"
    assert text_of(html, "trakt-status-last-error") == "none"
    assert text_of(html, "trakt-status-pending") == "0 rating changes"
    # the default "0 */2 * * *": on an even hour, on the minute zero
    with host_app.app_context():
        from aperture_trakt_plugin.usecases import diagnosis

        found = diagnosis.diagnose(alice)
    assert found.connected and found.next_run_at is not None
    assert found.next_run_at.minute == 0 and found.next_run_at.hour % 2 == 0
    assert found.next_run_at > datetime.now(UTC)


def test_a_disabled_schedule_says_so(alice, host_app):
    from harness.reference_host import jobs as host_jobs

    with host_app.app_context():
        host_jobs.save_schedule(jobs.SYNC_ALL, "0 */2 * * *", False)
    assert headline(page(client_as(host_app, USER))) == (
        "In sync; scheduled syncs are switched off."
    )


def test_a_trakt_rating_of_a_title_the_library_lacks_is_listed_with_its_ids(
    alice, host_app, sandbox
):
    token = sandbox.issue_tokens(TRAKT_USER)["access_token"]
    sandbox.advance_clock(2)
    rate_on_trakt(sandbox, token, RASHOMON, 8, sandbox_now(sandbox))
    sandbox.advance_clock(2)
    with host_app.app_context():
        assert sync.sync_user_ratings(alice).waiting_for_library == 1
    html = page(client_as(host_app, USER))
    listed = text_of(html, "trakt-status-unmatched")
    assert listed is not None, html
    assert "Rashomon" in listed and "rated 8" in listed
    assert f"tmdb {RASHOMON}" in listed and "imdb tt0042876" in listed
    assert "On Trakt, not in this library (1)" in html


def test_a_rating_trakt_does_not_know_is_listed_with_the_reason(alice, host_app):
    from harness.reference_host.db import db
    from harness.reference_host.models import MediaItem

    with host_app.app_context():
        unknown = MediaItem(
            kind="movie", title="A Home Movie", year=2025, tmdb=999_999_001, imdb="tt99999901"
        )
        db.session.add(unknown)
        db.session.commit()
        services(host_app).apply_rating(
            alice, str(unknown.id), 10, datetime(2026, 11, 1, 12, tzinfo=UTC), "aperture"
        )
        assert jobs.push_user(alice)["not_found"] == 1
    html = page(client_as(host_app, USER))
    listed = text_of(html, "trakt-status-not-found")
    assert listed is not None, html
    assert "A Home Movie" in listed and "rated 10" in listed
    assert "tmdb 999999001" in listed and "imdb tt99999901" in listed
    assert "Trakt does not know this item's ids" in listed
    assert "Not found on Trakt (1)" in html


def wait_in_scheduler(host_app, uid: int, at: datetime, rate_limited: bool) -> None:
    """A retry of the user's sync waiting in rq-scheduler, as ``retries.reschedule``
    leaves one: the ``-retry`` id, the reason and the kind of wait in its meta."""
    job_id = retries.retry_id(jobs.user_sync_job_id(uid))
    Scheduler(queue_name="trakt", connection=services(host_app).redis).enqueue_at(
        at,
        "aperture_trakt_plugin.usecases.jobs.sync_user",
        uid,
        None,
        False,
        job_id=job_id,
        queue_name="trakt",
        meta={
            retries.ATTEMPT: 0,
            "reason": "Trakt's rate limit",
            retries.RATE_LIMITED: rate_limited,
        },
    )


def test_a_waiting_retry_shows_queued_until_on_profile_and_admin_pages(alice, host_app):
    at = (datetime.now(UTC) + timedelta(minutes=40)).replace(second=0, microsecond=0)
    with host_app.app_context():
        wait_in_scheduler(host_app, alice, at, rate_limited=True)
    html = page(client_as(host_app, USER))
    assert headline(html) == f"Waiting for Trakt's rate limit until {at:%H:%M} UTC."
    assert text_of(html, "trakt-status-queued-until") == (
        f"{at:%d %b %Y, %H:%M} UTC (Trakt's rate limit)"
    )
    admin = client_as(host_app, "admin")
    row = text_of(page(admin, STATUS), f"trakt-status-user-{alice}")
    assert row is not None and f"{at:%d %b %Y, %H:%M} UTC" in row


def test_a_retry_after_an_error_names_the_error(alice, host_app):
    at = (datetime.now(UTC) + timedelta(minutes=5)).replace(second=0, microsecond=0)
    with host_app.app_context():
        from aperture_trakt_plugin.accounts import tokens

        conn = tokens.store().get(alice)
        conn.last_error = "Reading your Trakt ratings: Trakt did not answer (timeout)"
        conn.last_error_at = datetime.now(UTC)
        services(host_app).db.session.commit()
        wait_in_scheduler(host_app, alice, at, rate_limited=False)
    assert headline(page(client_as(host_app, USER))) == (
        f"Retrying after an error at {at:%H:%M} UTC: Reading your Trakt ratings: Trakt did "
        "not answer (timeout)"
    )


def test_an_unreachable_redis_makes_the_queue_unknown_not_an_error(alice, host_app):
    with host_app.app_context():
        from redis import Redis

        from aperture_trakt_plugin import extension
        from aperture_trakt_plugin.usecases import diagnosis

        host = extension.state().host
        working = host.redis
        host._redis = Redis(port=1, socket_connect_timeout=0.2)  # nothing listens there
        try:
            found = diagnosis.diagnose(alice)
        finally:
            host._redis = working
    assert found.queue_known is False and found.queued is None
    assert found.headline.startswith("In sync")


def test_admins_see_every_user_and_open_one(alice, host_app, sandbox):
    admin = client_as(host_app, "admin")
    html = page(admin, STATUS)
    row = text_of(html, f"trakt-status-user-{alice}")
    assert row is not None and "alice" in row and "In sync; next run at" in row
    assert f'href="{STATUS}/{alice}"' in html
    detail = page(admin, f"{STATUS}/{alice}")
    assert 'id="trakt-sync-status"' in detail and " open" in detail
    assert headline(detail).startswith("In sync")
    assert admin.get(f"{STATUS}/999999").status_code == 404
    for path in (INTEGRATIONS, JOBS):
        assert f'href="{STATUS}"' in page(admin, path), path


def test_other_users_get_403_and_see_only_their_own_status(alice, host_app, sandbox):
    bob = user_id(host_app, "bob")
    fresh_connection(host_app, sandbox, "bob", "bob_trakt")
    client = client_as(host_app, "bob")
    for path in (STATUS, f"{STATUS}/{alice}", f"{STATUS}/{bob}"):
        assert client.get(path).status_code == 403, path
    html = page(client)
    assert f'data-user-id="{bob}"' in html and f'data-user-id="{alice}"' not in html
    assert "alice_trakt" not in html
    anonymous = host_app.test_client().get(STATUS)
    assert anonymous.status_code in (302, 401)


def test_invalid_credentials_are_shown_to_admins_only(alice, host_app, sandbox):
    with host_app.app_context():
        from aperture_trakt_plugin import extension

        extension.state().settings.set_credentials_problem(PROBLEM)
    admin = client_as(host_app, "admin")
    for path in (INTEGRATIONS, JOBS, STATUS):
        problem = text_of(page(admin, path), "trakt-credentials-problem")
        assert problem is not None and problem.startswith("Invalid credentials"), path
    assert headline(page(admin, f"{STATUS}/{alice}")) == PROBLEM
    html = page(client_as(host_app, USER))
    assert "Invalid credentials" not in html
    assert headline(html) == (
        "The server's Trakt app needs attention; nothing syncs until an admin fixes it."
    )


def test_no_secret_reaches_any_of_these_pages(alice, host_app, sandbox):
    with host_app.app_context():
        from aperture_trakt_plugin import extension

        extension.state().settings.set_credentials_problem(PROBLEM)
    secrets = secrets_of(host_app, sandbox, USER)
    admin = client_as(host_app, "admin")
    pages = [page(admin, path) for path in (INTEGRATIONS, JOBS, STATUS, f"{STATUS}/{alice}")]
    pages.append(page(client_as(host_app, USER), PROFILE))
    for html in pages:
        for secret in secrets:
            assert secret not in html


def test_the_status_pages_sit_inside_the_hosts_layout(alice, host_app):
    """The host names its layout (``HostServices.page_layout``): its menus, with the way
    to the jobs screen and back, around the plugin's table; a row per user in words."""
    admin = client_as(host_app, "admin")
    html = admin.get(STATUS).get_data(as_text=True)
    assert '<header class="topbar">' in html and 'href="/admin/jobs"' in html
    assert "· Aperture (reference host)</title>" in html and "Trakt sync status" in html
    assert 'id="trakt-status-page"' in html and 'id="trakt-status-user-' in html
    assert html.count("<html") == 1 and html.count("<body") == 1
    user_page = admin.get(f"{STATUS}/{alice}").get_data(as_text=True)
    assert '<header class="topbar">' in user_page and 'id="trakt-status-back"' in user_page
    assert "Trakt sync status — alice" in user_page


@pytest.mark.parametrize("host_config", [{"DEMO_PAGE_LAYOUT": ""}], indirect=True)
def test_a_host_without_a_layout_gets_a_standalone_page(alice, host_app):
    html = client_as(host_app, "admin").get(STATUS).get_data(as_text=True)
    assert '<header class="topbar">' not in html
    assert html.startswith("<!doctype html>") and 'id="trakt-status-page"' in html
    assert "<title>Trakt sync status</title>" in html

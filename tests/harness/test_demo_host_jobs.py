"""Admin → Jobs on the reference host: definitions, schedules, Run now with a real worker."""

from __future__ import annotations

import re

import pytest

from harness.reference_host.testplugins import COUNT_JOB, FAILING_JOB, Recorder
from tests.fixtures_host import csrf_token_from, wait_for_run

JOBS_PLUGIN = "harness.reference_host.testplugins:jobs_plugin"
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture()
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture()
def host_config(request, recorder):
    """This module's plugins; a test may parametrise it (indirect) to replace them."""
    return getattr(request, "param", None) or {
        "APERTURE_LOAD_ENTRY_POINTS": False,
        "APERTURE_PLUGINS": [JOBS_PLUGIN, recorder],
    }


@pytest.fixture()
def admin(host_client, login):
    login(host_client, "admin")
    return host_client


def post_form(client, action: str, **fields):
    token = csrf_token_from(client.get("/admin/jobs").get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **fields}, follow_redirects=True)


def test_jobs_screen_lists_the_definitions(admin):
    html = admin.get("/admin/jobs").get_data(as_text=True)
    assert 'id="job-demo-count"' in html and "Count to three" in html
    assert "<code>*/30 * * * *</code>" in html  # the default schedule
    assert 'id="job-demo-fail"' in html
    assert "No runs yet." in html


def test_saving_a_schedule_stores_it_and_tells_the_plugins(admin, host_app, recorder):
    html = post_form(
        admin, f"/admin/jobs/{COUNT_JOB}/schedule", cron=" 15  3 * * * ", enabled="on"
    ).get_data(as_text=True)
    assert "Count to three: schedule saved." in html
    assert '<code class="saved-cron">15 3 * * *</code>' in html
    schedules = host_app.extensions["aperture_host"].job_schedules()
    assert (schedules[COUNT_JOB].cron, schedules[COUNT_JOB].enabled) == ("15 3 * * *", True)
    assert recorder.named("aperture_job_schedule_changed") == [
        {"name": COUNT_JOB, "cron": "15 3 * * *", "enabled": True}
    ]

    post_form(admin, f"/admin/jobs/{COUNT_JOB}/schedule", cron="15 3 * * *")  # unticked
    assert host_app.extensions["aperture_host"].job_schedules()[COUNT_JOB].enabled is False
    assert recorder.named("aperture_job_schedule_changed")[-1]["enabled"] is False


def test_an_invalid_cron_is_refused(admin, host_app, recorder):
    html = post_form(
        admin, f"/admin/jobs/{COUNT_JOB}/schedule", cron="every day", enabled="on"
    ).get_data(as_text=True)
    assert "is not a valid cron expression" in html
    assert host_app.extensions["aperture_host"].job_schedules() == {}
    assert recorder.named("aperture_job_schedule_changed") == []


def test_unknown_job_is_404(admin):
    assert post_form(admin, "/admin/jobs/nope/run").status_code == 404


@pytest.mark.slow
def test_run_now_runs_in_a_real_worker_and_the_run_page_shows_its_log(admin, host_app, host_worker):
    response = post_form(admin, f"/admin/jobs/{COUNT_JOB}/run")
    run_id = int(re.search(r"Run #(\d+)", response.get_data(as_text=True)).group(1))
    run = wait_for_run(host_app, run_id, process=host_worker)
    assert run.status == "succeeded", host_worker.output()[-2000:]
    assert (run.progress_done, run.progress_total) == (3, 3)
    html = admin.get(f"/admin/jobs/runs/{run_id}").get_data(as_text=True)
    assert '<strong id="run-status" class="status status-succeeded">succeeded</strong>' in html
    log = re.search(r'<pre id="run-log">(.*?)</pre>', html, re.DOTALL).group(1)
    assert [line.split("] ", 1)[1] for line in log.strip().splitlines()] == [
        "counting to 3",
        "counted 1",
        "counted 2",
        "counted 3",
        "done counting",
    ]
    assert 'http-equiv="refresh"' not in html  # finished runs stop refreshing
    listing = admin.get("/admin/jobs").get_data(as_text=True)
    assert f'href="/admin/jobs/runs/{run_id}">#{run_id}</a>' in listing

    response = post_form(admin, f"/admin/jobs/{FAILING_JOB}/run")
    failed_id = int(re.search(r"Run #(\d+)", response.get_data(as_text=True)).group(1))
    failed = wait_for_run(host_app, failed_id, process=host_worker)
    assert failed.status == "failed"
    assert failed.error == "RuntimeError: the job broke on purpose"
    html = admin.get(f"/admin/jobs/runs/{failed_id}").get_data(as_text=True)
    assert "about to fail" in html and "the job broke on purpose" in html


def test_a_queued_run_waits_with_a_refreshing_page(admin, host_app):
    response = post_form(admin, f"/admin/jobs/{COUNT_JOB}/run")
    html = response.get_data(as_text=True)
    assert "queued" in html and 'http-equiv="refresh"' in html
    queue = host_app.extensions["aperture_host"].queue("default")
    (job,) = queue.get_jobs()
    assert job.func_name == "harness.reference_host.testplugins.count_job"
    assert job.kwargs["run_id"] == int(re.search(r"Run #(\d+)", html).group(1))


@pytest.mark.parametrize(
    "host_config",
    [
        {
            "APERTURE_LOAD_ENTRY_POINTS": False,
            "APERTURE_PLUGINS": [JOBS_PLUGIN],
            "REDIS_URL": DEAD_REDIS,
        }
    ],
    indirect=True,
)
def test_redis_down_pages_work_and_run_now_says_why(admin, host_app):
    assert admin.get("/library").status_code == 200
    assert admin.get("/admin/jobs").status_code == 200
    html = post_form(admin, f"/admin/jobs/{COUNT_JOB}/run").get_data(as_text=True)
    assert "Count to three: could not queue the job (is Redis running?)" in html
    assert "status-failed" in html  # the run that could not start is recorded as failed


def test_a_scheduled_run_opens_its_own_run(host_app):
    """Scheduled jobs get ``run_id=None``; the host opens a run for them."""
    from harness.reference_host.testplugins import count_job, failing_job

    with host_app.app_context():
        assert count_job(upto=2) == 2
        with pytest.raises(RuntimeError):
            failing_job()
    (failed, succeeded) = [wait_for_run(host_app, n, timeout=1) for n in (2, 1)]
    assert (succeeded.name, succeeded.status, succeeded.progress_done) == (
        COUNT_JOB,
        "succeeded",
        2,
    )
    assert (failed.name, failed.status) == (FAILING_JOB, "failed")

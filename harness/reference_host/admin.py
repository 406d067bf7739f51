"""Admin pages: Settings → Setup → Integrations and the Jobs screen."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from aperture_trakt_plugin.host import JobDefinition
from harness.reference_host import jobs
from harness.reference_host.auth import admin_required
from harness.reference_host.db import db
from harness.reference_host.models import JobRun
from harness.reference_host.plugins import collect, notify, plugin_manager
from harness.reference_host.schedules import CronError, normalise_cron
from harness.reference_host.services import to_host_user

bp = Blueprint("admin", __name__, url_prefix="/admin")


def job_definitions() -> dict[str, JobDefinition]:
    return {d.name: d for d in collect(plugin_manager(), "aperture_job_definitions")}


def _definition_or_404(name: str) -> JobDefinition:
    definition = job_definitions().get(name)
    if definition is None:
        abort(404)
    return definition


@bp.route("/settings/integrations")
@admin_required
def integrations() -> str:
    user = to_host_user(current_user)
    sections = plugin_manager().hook.aperture_tpl_admin_integrations(user=user)
    return render_template("host/admin_integrations.html", sections=sections)


@bp.route("/jobs")
@admin_required
def job_list() -> str:
    sections = plugin_manager().hook.aperture_tpl_admin_jobs(user=to_host_user(current_user))
    return render_template(
        "host/admin_jobs.html",
        definitions=list(job_definitions().values()),
        schedules=jobs.schedules(),
        runs=jobs.recent_runs(),
        sections=sections,
    )


@bp.route("/jobs/<name>/schedule", methods=["POST"])
@admin_required
def save_schedule(name: str) -> Response:
    definition = _definition_or_404(name)
    try:
        cron = normalise_cron(request.form.get("cron", ""))
    except CronError as exc:
        flash(f"{definition.label}: {exc}", "error")
        return redirect(url_for("admin.job_list"))
    enabled = request.form.get("enabled") == "on"
    jobs.save_schedule(name, cron, enabled)
    failures = notify(
        plugin_manager(), "aperture_job_schedule_changed", name=name, cron=cron, enabled=enabled
    )
    if failures:
        flash(f"{definition.label}: schedule saved, but applying it failed: {failures[0]}", "error")
    else:
        flash(f"{definition.label}: schedule saved.", "success")
    return redirect(url_for("admin.job_list"))


@bp.route("/jobs/<name>/run", methods=["POST"])
@admin_required
def run_now(name: str) -> Response:
    definition = _definition_or_404(name)
    try:
        run = jobs.enqueue_now(definition)
    except Exception as exc:
        flash(f"{definition.label}: could not queue the job (is Redis running?): {exc}", "error")
        return redirect(url_for("admin.job_list"))
    flash(f"{definition.label}: queued as run {run.id}.", "success")
    return redirect(url_for("admin.job_run", run_id=run.id))


def _run_or_404(run_id: int) -> JobRun:
    run = db.session.get(JobRun, run_id)
    if run is None:
        abort(404)
    return run


@bp.route("/jobs/runs/<int:run_id>")
@admin_required
def job_run(run_id: int) -> str:
    run = _run_or_404(run_id)
    definition = job_definitions().get(run.name)
    return render_template("host/admin_job_run.html", run=run, definition=definition)


@bp.route("/jobs/runs/<int:run_id>.json")
@admin_required
def job_run_json(run_id: int) -> Response:
    run = _run_or_404(run_id)
    return jsonify(
        {
            "id": run.id,
            "name": run.name,
            "status": run.status,
            "log": run.log,
            "progress_done": run.progress_done,
            "progress_total": run.progress_total,
            "error": run.error,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        }
    )

"""``flask trakt doctor``: whether the integration can do its work, part by part, for an
admin at a terminal and for monitoring (exit 0 healthy, 1 degraded, 2 broken).

It asks Trakt about the app's credentials (two calls); the jobs screen's panel does not.
"""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from aperture_trakt_plugin.usecases import health

MSG_LINE = "[{status:>4}] {part:<11} {message}"
MSG_FIX = "       {blank:<11} fix: {fix}"
MSG_STATE = "Trakt integration: {state}"


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--offline", is_flag=True, help="Do not ask Trakt about the app's credentials.")
@with_appcontext
def doctor_command(as_json: bool, offline: bool) -> None:
    """Checks Redis, the workers, rq-scheduler and its schedules, the migrations, the
    app's credentials, the queue and failed jobs. Exit status 0 healthy, 1 degraded,
    2 broken."""
    report = health.check(live=not offline)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2, default=str))
    else:
        for check in report.checks:
            click.echo(MSG_LINE.format(status=check.status, part=check.part, message=check.message))
            if check.fix:
                click.echo(MSG_FIX.format(blank="", fix=check.fix))
        click.echo(MSG_STATE.format(state=report.state))
    raise SystemExit(report.exit_status)

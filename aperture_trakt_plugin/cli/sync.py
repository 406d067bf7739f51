"""``flask trakt sync``: the two-way rating sync run by hand, in the foreground or queued.

For an admin who wants to see a plan (``--dry-run``) or push one user now; it runs the
same code the jobs run, and its exit status tells a script whether anything failed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.cli import arguments
from aperture_trakt_plugin.trakt.errors import TraktError

if TYPE_CHECKING:
    from aperture_trakt_plugin.sync import Progress

MSG_USER_OR_ALL = "give either --user NAME or --all"
MSG_QUEUED = "{label}: queued as {job_id}"
MSG_NOT_QUEUED = "{label}: could not queue (Redis unreachable)"
MSG_SYNC_FAILED = "{label}: failed: {error}"
MSG_MORE_CONFLICTS = "{label}: … and {count} more conflicts"
MSG_PROGRESS = "{label}: {progress}"
MSG_PROGRESS_BAR = "\r{label}: [{bar}] {progress}"
BAR_WIDTH = 24


def progress_for(label: str) -> Progress:
    """A long sync's stages on the command line: a bar redrawn in place on a terminal,
    a plain line per stage (and every few seconds) otherwise, for logs and scripts."""
    from aperture_trakt_plugin import sync

    if not sys.stdout.isatty():
        return sync.Throttle(
            lambda stage, done, total: click.echo(
                MSG_PROGRESS.format(label=label, progress=sync.describe(stage, done, total))
            )
        )

    def bar(stage: str, done: int, total: int | None) -> None:
        filled = BAR_WIDTH * min(done, total) // total if total else 0
        line = MSG_PROGRESS_BAR.format(
            label=label,
            bar="#" * filled + "." * (BAR_WIDTH - filled),
            progress=sync.describe(stage, done, total),
        )
        click.echo(line.ljust(100), nl=total is not None and done >= total)

    return sync.Throttle(bar, interval=0.1)


@click.command("sync")
@click.option("--user", "name", help="Sync this user.")
@click.option("--all", "everyone", is_flag=True, help="Sync every connected user.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing on either side.")
@click.option("--force", is_flag=True, help="Go ahead even if many ratings would be removed.")
@click.option("--enqueue", is_flag=True, help="Queue the work for the workers instead.")
@with_appcontext
def sync_command(
    name: str | None, everyone: bool, dry_run: bool, force: bool, enqueue: bool
) -> None:
    """The two-way rating sync in the foreground (the same code the jobs run)."""
    from aperture_trakt_plugin import sync
    from aperture_trakt_plugin.storage.models import TraktConnection
    from aperture_trakt_plugin.usecases import jobs

    if bool(name) == everyone:
        raise click.UsageError(MSG_USER_OR_ALL)
    host = extension.state().host
    user_ids = (
        [arguments.user_id(name)]
        if name
        else [c.user_id for c in host.db.session.query(TraktConnection).all()]
    )
    failed = False
    for user_id in user_ids:
        user = host.get_user(user_id)
        label = user.name if user else f"#{user_id}"
        if enqueue:
            job_id = jobs.enqueue_user_sync(user_id, "asked from the command line", force=force)
            click.echo(
                MSG_QUEUED.format(label=label, job_id=job_id)
                if job_id
                else MSG_NOT_QUEUED.format(label=label),
                err=not job_id,
            )
            failed = failed or not job_id  # scripts must see that nothing will run
            continue
        try:
            result = sync.sync_user_ratings(
                user_id, dry_run=dry_run, force=force, progress=progress_for(label)
            )
        except TraktError as exc:
            click.echo(MSG_SYNC_FAILED.format(label=label, error=exc), err=True)
            failed = True
            continue
        for line in result.plan if dry_run else result.conflicts:
            click.echo(f"{label}: {line}")
        if not dry_run and result.conflict_count > len(result.conflicts):
            click.echo(
                MSG_MORE_CONFLICTS.format(
                    label=label, count=result.conflict_count - len(result.conflicts)
                )
            )
        click.echo(f"{label}: {result.summary()}")
        failed = failed or result.status == "blocked"
    if failed:
        raise SystemExit(1)

"""``flask demo ...``: seed, rate from the shell, list ratings, run a worker or scheduler."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from aperture_trakt_plugin.host import ExternalIds, MediaRef
from harness.reference_host import library, media, ratings
from harness.reference_host.db import db, utcnow
from harness.reference_host.models import User
from harness.reference_host.seed import seed
from harness.reference_host.worker import DEFAULT_QUEUES, run_scheduler, run_worker

demo = AppGroup("demo", help="The reference host's demo commands.")
KINDS = ("movie", "show", "season", "episode")


def _user_id(name: str) -> int:
    user = current_app.extensions["aperture_host"].get_user_by_name(name)
    if user is None:
        raise click.BadParameter(f"no user {name!r}", param_hint="--user")
    return user.id


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@demo.command("seed")
def seed_command() -> None:
    """Create the demo users and library (adds only what is missing)."""
    report = seed(raters=current_app.config["DEMO_SEED_RATINGS"])
    click.echo(
        f"seeded {report.users} users, {report.items} media items, {report.watches} watch "
        f"events, {report.ratings} ratings"
    )


@demo.command("rate")
@click.option("--user", "username", required=True)
@click.option("--tmdb", type=int)
@click.option("--imdb")
@click.option("--tvdb", type=int)
@click.option(
    "--kind", type=click.Choice(KINDS), help="Defaults to movie, or show when only --tvdb is given."
)
@click.option("--season", type=int)
@click.option("--episode", type=int)
@click.option("--value", type=click.IntRange(1, 10))
@click.option("--remove", is_flag=True, help="Remove the rating instead of setting it.")
@click.option("--at", "when", callback=_parse_time, help="ISO time of the change (UTC).")
@click.option("--source", default=ratings.USER_SOURCE, show_default=True)
def rate_command(
    username: str,
    tmdb: int | None,
    imdb: str | None,
    tvdb: int | None,
    kind: str | None,
    season: int | None,
    episode: int | None,
    value: int | None,
    remove: bool,
    when: datetime | None,
    source: str,
) -> None:
    """Rate (or unrate) a library item found by its external ids, as the UI would."""
    ids = ExternalIds(tmdb=tmdb, imdb=imdb, tvdb=tvdb)
    if not ids.any():
        raise click.UsageError("give at least one of --tmdb, --imdb, --tvdb")
    if remove == (value is not None):
        raise click.UsageError("give either --value N or --remove")
    if kind is None:
        kind = (
            "episode"
            if episode is not None
            else "season"
            if season is not None
            else "show"
            if tvdb is not None and tmdb is None and imdb is None
            else "movie"
        )
    found = media.find_bulk([MediaRef(kind=kind, ids=ids, season=season, episode=episode)])[0]
    if found is None:
        raise click.ClickException(f"no {kind} with {ids} in the library")
    user_id, when = _user_id(username), when or utcnow()
    if remove:
        removed = ratings.remove_rating(user_id, found.item_id, when, source)
        click.echo(
            f"removed rating of {found.title}"
            if removed
            else f"{username} had not rated {found.title}"
        )
    else:
        ratings.apply_rating(user_id, found.item_id, value, when, source)
        click.echo(f"{username} rated {found.title} {value}/10")


@demo.command("ratings")
@click.option("--user", "username", required=True)
@click.option("--json", "as_json", is_flag=True)
def ratings_command(username: str, as_json: bool) -> None:
    """List a user's ratings, newest first."""
    rows = [
        {
            "title": r.item.title,
            "year": r.item.year,
            "kind": r.item.kind,
            "ids": {"tmdb": r.item.tmdb, "imdb": r.item.imdb, "tvdb": r.item.tvdb},
            "season": r.item.season_number,
            "episode": r.item.episode_number,
            "value": r.value,
            "rated_at": _iso(r.rated_at),
            "source": r.source,
        }
        for r in ratings.ratings_of(_user_id(username))
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['value']:>2}/10  {row['title']} ({row['year'] or '-'})  "
            f"{row['rated_at']}  [{row['source']}]"
        )
    if not rows:
        click.echo(f"{username} has no ratings")


@demo.command("library")
@click.argument("action", type=click.Choice(["add", "remove"]))
@click.option("--kind", type=click.Choice(["movie", "show"]), default="movie", show_default=True)
@click.option("--tmdb", type=int)
@click.option("--imdb")
@click.option("--tvdb", type=int)
def library_command(
    action: str, kind: str, tmdb: int | None, imdb: str | None, tvdb: int | None
) -> None:
    """Add a catalogue title to the library, or remove one (tells the plugins)."""
    ids = ExternalIds(tmdb=tmdb, imdb=imdb, tvdb=tvdb)
    if not ids.any():
        raise click.UsageError("give at least one of --tmdb, --imdb, --tvdb")
    found = media.find_one(kind, ids)  # type: ignore[arg-type]
    if action == "remove":
        if found is None:
            raise click.ClickException(f"no {kind} with {ids} in the library")
        library.remove_item(media.get_item(found.item_id))
        click.echo(f"removed {found.title} from the library")
        return
    if found is not None:
        raise click.ClickException(f"{found.title} is already in the library")
    key, value = next(
        (k, v) for k, v in (("tmdb", tmdb), ("imdb", imdb), ("tvdb", tvdb)) if v is not None
    )
    entry = library.catalogue_entry(kind, key, value)
    if entry is None:
        raise click.ClickException(f"no {kind} with {key} {value} in the catalogue")
    added = library.add_title(kind, entry)
    click.echo(f"added {added.title} to the library as item {added.item_id}")


@demo.command("delete-user")
@click.argument("name")
def delete_user_command(name: str) -> None:
    """Delete a user with their ratings and history (tells the plugins)."""
    user = db.session.get(User, _user_id(name))
    library.delete_user(user)
    click.echo(f"deleted user {name}")


@demo.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    help=f"Queue to listen on (repeatable); default: {', '.join(DEFAULT_QUEUES)}.",
)
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker that executes jobs inside this app."""
    db.engine.dispose()  # start with no connections opened during app setup
    # RQ sets up only its own logger; the plugins' INFO lines (the Trakt plugin's one
    # line per user run among them) go to the same stream, as a host's would.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    plugin_log = logging.getLogger("aperture_trakt_plugin")
    plugin_log.addHandler(handler)
    plugin_log.setLevel(logging.INFO)
    run_worker(current_app._get_current_object(), queues, burst)


@demo.command("scheduler")
@click.option("--interval", type=int, help="Seconds between polls (DEMO_SCHEDULER_INTERVAL).")
@click.option("--burst", is_flag=True, help="Enqueue what is due once, then stop.")
def scheduler_command(interval: int | None, burst: bool) -> None:
    """Run rq-scheduler, which moves due scheduled jobs into their queues."""
    app = current_app._get_current_object()
    run_scheduler(app, interval or app.config["DEMO_SCHEDULER_INTERVAL"], burst)

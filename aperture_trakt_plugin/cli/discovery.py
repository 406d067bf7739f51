"""``flask trakt discovery refresh | discover | hide | watchlist``: Trakt's lists in
Discovery from a terminal.

For filling the caches without waiting for the job, and for seeing what a user's
discovery holds (or hiding a title) the way the pages do, from the same caches.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from aperture_trakt_plugin.cli import arguments

MSG_NOTHING_TO_DISCOVER = "nothing to discover for {name} yet; run `flask trakt discovery refresh`"
MSG_HIDDEN_HERE = "{name}: {title} hidden here; {reason}"
MSG_HIDDEN_BOTH = "{name}: {title} hidden here and on Trakt"
MSG_WATCHLIST_EMPTY = "{name}: the Trakt watchlist is empty or not read yet"


@click.group("discovery", help="Trakt's lists in Discovery: the caches pages read.")
def discovery_group() -> None:
    pass


@discovery_group.command("refresh")
@click.option("--user", "name", help="Only this user's lists (and the server's, if never read).")
@with_appcontext
def discovery_refresh(name: str | None) -> None:
    """Fills the discovery caches in the foreground (the same code the job runs)."""
    from aperture_trakt_plugin.discovery import cache, refresh

    if name:
        user_id = arguments.user_id(name)
        never = cache.load(cache.global_scope("trending", "movies")) is None
        result = refresh.refresh([user_id], report=click.echo, global_lists=never)
    else:
        result = refresh.refresh(report=click.echo)
    if result.errors:
        raise SystemExit(1)


def _candidate_json(candidate: Any) -> dict[str, Any]:
    ref = candidate.in_library
    return {
        "kind": candidate.kind,
        "title": candidate.title,
        "year": candidate.year,
        "ids": candidate.ids._asdict(),
        "sources": candidate.sources,
        "reason": candidate.reason,
        "score": candidate.score,
        "in_library": {"item_id": ref.item_id, "title": ref.title} if ref else None,
    }


@click.command("discover")
@click.option("--user", "name", required=True, help="Whose discovery.")
@click.option(
    "--type",
    "media_type",
    type=click.Choice(["movies", "shows"]),
    default="movies",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def discover_command(name: str, media_type: str, limit: int, as_json: bool) -> None:
    """The user's candidates from every Trakt list, ranked, as the last refresh left them."""
    from aperture_trakt_plugin.discovery.candidates import for_list
    from aperture_trakt_plugin.discovery.lists import ALL

    found = [_candidate_json(c) for c in for_list(arguments.user_id(name), ALL, media_type, limit)]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo(MSG_NOTHING_TO_DISCOVER.format(name=name))
    for number, item in enumerate(found, 1):
        flag = " [in library]" if item["in_library"] else ""
        click.echo(
            f"{number:>3}. {item['title']} ({item['year'] or '?'}){flag} — "
            f"{item['reason']} [{', '.join(item['sources'])}]"
        )


@click.command("hide")
@click.option("--user", "name", required=True, help="Who is not interested.")
@click.option("--tmdb", type=int, required=True, help="The title's TMDB id.")
@click.option(
    "--type", "kind", type=click.Choice(["movie", "show"]), default="movie", show_default=True
)
@with_appcontext
def hide_command(name: str, tmdb: int, kind: str) -> None:
    """Not interested: hides the title here at once, then on Trakt (sent now if possible;
    else it stays pending and goes with the next refresh)."""
    from aperture_trakt_plugin.discovery import hide
    from aperture_trakt_plugin.host import ExternalIds

    user_id = arguments.user_id(name)
    row = hide.hide(user_id, kind, ExternalIds(tmdb=tmdb))
    title = row.title or f"{kind} tmdb {tmdb}"
    sent = hide.send_pending(user_id)
    if sent.failures:
        click.echo(MSG_HIDDEN_HERE.format(name=name, title=title, reason=row.reason), err=True)
        return
    click.echo(
        MSG_HIDDEN_BOTH.format(name=name, title=title)
        if row.state == hide.SENT
        else MSG_HIDDEN_HERE.format(name=name, title=title, reason=row.reason)
    )


@click.command("watchlist")
@click.option("--user", "name", required=True, help="Whose Trakt watchlist.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def watchlist_command(name: str, as_json: bool) -> None:
    """The user's Trakt watchlist as last read, with what the library holds."""
    from aperture_trakt_plugin.discovery.watchlist import watchlist

    items = watchlist(arguments.user_id(name))
    if as_json:
        click.echo(json.dumps([item.as_json() for item in items], indent=2))
        return
    if not items:
        click.echo(MSG_WATCHLIST_EMPTY.format(name=name))
    for item in items:
        flag = " [in library]" if item.in_library else ""
        click.echo(f"{item.kind} {item.title} ({item.year or '?'}){flag}")

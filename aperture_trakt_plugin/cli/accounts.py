"""``flask trakt connect | disconnect | status``: a user's Trakt connection from a
terminal, for headless servers and for an admin asked why someone is not syncing.

The same connection use cases as the profile card, so the two cannot disagree.
"""

from __future__ import annotations

import json
import time

import click
from flask.cli import with_appcontext

from aperture_trakt_plugin.cli import arguments
from aperture_trakt_plugin.trakt import device_flow
from aperture_trakt_plugin.trakt.errors import TraktError
from aperture_trakt_plugin.usecases import connections

MSG_DEVICE_OPEN = "On any device, open {url} and enter the code: {code}"
MSG_DEVICE_WAITING = "Waiting for the code to be entered on Trakt (Ctrl-C to stop)..."
MSG_DISCONNECTED = "{name}: disconnected from Trakt; ratings on this server are kept"
MSG_WAS_NOT_CONNECTED = "{name}: was not connected to Trakt"
MSG_NO_CONNECTIONS = "no Trakt connections"
MSG_NO_CONNECTIONS_FOR = "no Trakt connections for {name}"
MSG_STATUS_LINE = (
    "{user}: Trakt {trakt_username} ({trouble}); connected {connected_since}; "
    "token until {token_expires_at}; last sync {last_sync_at}; "
    "last error {last_error}"
)
MSG_STATUS_RECONNECT = "NEEDS RECONNECTING"
MSG_STATUS_BLOCKED = "  waiting for confirmation: {reason}"
MSG_STATUS_NOT_FOUND = "  not found on Trakt: {kind} {title!r} {ids} ({reason})"
MSG_STATUS_OVER_LIMIT = "  waiting for room on Trakt: {kind} {title!r} ({reason})"


@click.command("connect")
@click.option("--user", "name", required=True, help="The server user to connect.")
@with_appcontext
def connect_command(name: str) -> None:
    """Connects a user's Trakt account with a device code, for terminals and headless servers."""
    user_id = arguments.user_id(name)
    try:
        state = connections.start_device(user_id)
    except TraktError as exc:
        raise click.ClickException(str(exc)) from None
    if state.verification_url:
        click.echo(MSG_DEVICE_OPEN.format(url=state.verification_url, code=state.user_code))
    else:
        click.echo(f"{device_flow.MSG_DEVICE_URL_UNTRUSTED} {state.user_code}")
    click.echo(MSG_DEVICE_WAITING)
    while not state.finished:
        time.sleep(state.interval or 5)
        try:
            state = connections.poll_device(user_id)
        except TraktError as exc:
            raise click.ClickException(str(exc)) from None
    if state.status != "connected":
        raise click.ClickException(state.message)
    click.echo(f"{name}: {state.message}")


@click.command("disconnect")
@click.option("--user", "name", required=True, help="The server user to disconnect.")
@with_appcontext
def disconnect_command(name: str) -> None:
    """Revokes the user's Trakt access and forgets the tokens; their ratings stay."""
    if connections.disconnect(arguments.user_id(name)):
        click.echo(MSG_DISCONNECTED.format(name=name))
    else:
        click.echo(MSG_WAS_NOT_CONNECTED.format(name=name))


@click.command("status")
@click.option("--user", "name", help="Only this user.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def status_command(name: str | None, as_json: bool) -> None:
    """Each connection: Trakt username, since when, token expiry, trouble, last sync."""
    rows = connections.status(arguments.user_id(name) if name else None)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(MSG_NO_CONNECTIONS_FOR.format(name=name) if name else MSG_NO_CONNECTIONS)
    for row in rows:
        click.echo(
            MSG_STATUS_LINE.format(
                user=row["user"],
                trakt_username=row["trakt_username"],
                trouble=MSG_STATUS_RECONNECT if row["needs_reconnect"] else "ok",
                connected_since=row["connected_since"],
                token_expires_at=row["token_expires_at"],
                last_sync_at=row["last_sync_at"] or "never",
                last_error=row["last_error"] or "none",
            )
        )
        if row["blocked"]:
            click.echo(MSG_STATUS_BLOCKED.format(reason=row["blocked"]))
        for item in row["not_found_on_trakt"]:
            click.echo(
                MSG_STATUS_NOT_FOUND.format(
                    kind=item["kind"], title=item["title"], ids=item["ids"], reason=item["reason"]
                )
            )
        for item in row["waiting_for_room_on_trakt"]:
            click.echo(
                MSG_STATUS_OVER_LIMIT.format(
                    kind=item["kind"], title=item["title"], reason=item["reason"]
                )
            )

"""``flask trakt ...``: the admin's command line, for scripts and for servers without a browser.

Commands go through the same code paths as the web pages (the same save-and-check,
the same store), so the two can never disagree about what a setting means.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import click
from click.core import ParameterSource
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Text, select, type_coerce, update

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import credentials
from aperture_trakt_plugin.storage import crypto, migrate
from aperture_trakt_plugin.storage.models import metadata
from aperture_trakt_plugin.trakt import device_flow
from aperture_trakt_plugin.trakt.errors import TraktError
from aperture_trakt_plugin.usecases import connections

# What the commands print (besides the shared messages of the modules they call); each is
# in docs/troubleshooting.md under "On the command line".
MSG_DB_AT = "trakt tables at {revision}"
MSG_DB_CURRENT = "current: {current}; head: {head}"
MSG_DB_BASE = "base (none)"
MSG_ROTATED = (
    "re-encrypted {count} secret value(s) under the newest key; older keys may now "
    "be removed from APERTURE_TRAKT_ENCRYPTION_KEYS"
)
MSG_OLD_SECRET_KEY_PROMPT = "Old SECRET_KEY"
MSG_OLD_SECRET_KEY_EMPTY = "the old SECRET_KEY is empty: nothing to decrypt with"
#: Both secret options (``settings set --client-secret``, ``rotate-keys --old-secret-key``)
#: take a hidden prompt (the option alone), standard input (``-``) or an environment variable.
MSG_SECRET_ON_ARGV = (
    "warning: a secret on the command line is visible to other users "
    "(ps) and kept in shell history; next time give the option alone "
    "(hidden prompt), - (standard input) or ${env} instead"
)
MSG_NO_SUCH_USER = "no user named {name!r} on this server"
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
MSG_USER_OR_ALL = "give either --user NAME or --all"
MSG_QUEUED = "{label}: queued as {job_id}"
MSG_NOT_QUEUED = "{label}: could not queue (Redis unreachable)"
MSG_SYNC_FAILED = "{label}: failed: {error}"
MSG_MORE_CONFLICTS = "{label}: … and {count} more conflicts"
MSG_NOTHING_TO_DISCOVER = "nothing to discover for {name} yet; run `flask trakt discovery refresh`"
MSG_HIDDEN_HERE = "{name}: {title} hidden here; {reason}"
MSG_HIDDEN_BOTH = "{name}: {title} hidden here and on Trakt"
MSG_WATCHLIST_EMPTY = "{name}: the Trakt watchlist is empty or not read yet"
MSG_SECRET_PROMPT = "Trakt Client Secret"
MSG_SECRET_EMPTY_STDIN = "--client-secret -: standard input was empty"

#: Where ``settings set`` takes the Client Secret from when no option names it. Not an
#: ``APERTURE_TRAKT_`` config key on purpose: a host that copies such variables into its
#: config would keep the secret there, in plain text, for the life of the process.
SECRET_ENV = "TRAKT_PLUGIN_CLIENT_SECRET"
SECRET_FROM_STDIN = "-"
SECRET_PROMPT = "\0prompt"  # what a bare --client-secret stands for; no real secret is this


@click.group("trakt", help="Trakt integration: settings, database, keys.")
def trakt() -> None:
    pass


# --- settings ----------------------------------------------------------------------------


@trakt.group("settings", help="The Trakt app credentials (Admin → Settings → Integrations).")
def settings_group() -> None:
    pass


def _client_secret(given: str | None) -> str | None:
    """The Client Secret from where the admin put it, keeping it off argv: a hidden prompt
    (bare ``--client-secret``), standard input (``-``), or ``SECRET_ENV``. A value on argv
    still works, since scripts use it, but warns: other users see it in ``ps``."""
    if given == SECRET_PROMPT:
        return click.prompt(MSG_SECRET_PROMPT, hide_input=True, err=True)
    if given == SECRET_FROM_STDIN:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise click.ClickException(MSG_SECRET_EMPTY_STDIN)
        return secret
    if given is None:
        return os.environ.get(SECRET_ENV) or None
    if given:
        click.echo(MSG_SECRET_ON_ARGV.format(env=SECRET_ENV), err=True)
    return given


@settings_group.command("set")
@click.option("--client-id", help="The Trakt app's Client ID (empty keeps the saved one).")
@click.option(
    "--client-secret",
    is_flag=False,
    flag_value=SECRET_PROMPT,
    default=None,
    help="The Trakt app's Client Secret: alone, asked for without echo; '-' reads "
    f"it from standard input; left out, taken from ${SECRET_ENV} if set, else "
    "the saved one is kept. A value here works but warns (others see it).",
)
@click.option("--redirect-uri", help="Overrides the callback URL (e.g. urn:ietf:wg:oauth:2.0:oob).")
@click.option("--save-anyway", is_flag=True, help="Store even if the check with Trakt fails.")
@with_appcontext
def settings_set(
    client_id: str | None, client_secret: str | None, redirect_uri: str | None, save_anyway: bool
) -> None:
    """Checks the credentials with Trakt, then stores them encrypted."""
    client_secret = _client_secret(client_secret)
    outcome = credentials.save_app_credentials(
        client_id, client_secret, redirect_uri, user_id=None, force=save_anyway
    )
    click.echo(outcome.message, err=not outcome.saved)
    if not outcome.saved:
        raise SystemExit(1)


@settings_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def settings_show(as_json: bool) -> None:
    """Prints the settings with the credentials masked."""
    values = extension.state().settings.masked()
    values["effective_redirect_uri"] = extension.effective_redirect_uri()
    values["api_url"] = current_app.config["APERTURE_TRAKT_API_URL"]
    values["auth_url"] = current_app.config["APERTURE_TRAKT_AUTH_URL"]
    if as_json:
        click.echo(json.dumps(values, indent=2))
        return
    for key, value in values.items():
        click.echo(f"{key}: {value if value is not None else '(default)'}")


# --- database ----------------------------------------------------------------------------


@trakt.group("db", help="The plugin's own tables (Alembic lineage 'trakt').")
def db_group() -> None:
    pass


def _engine():  # type: ignore[no-untyped-def]
    return extension.state().host.db.engine


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    migrate.upgrade(_engine(), revision)
    click.echo(MSG_DB_AT.format(revision=migrate.current(_engine())))


@db_group.command("downgrade")
@click.argument("revision", default="base")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Down to ``base`` drops every trakt_ table (uninstalling)."""
    migrate.downgrade(_engine(), revision)
    click.echo(MSG_DB_AT.format(revision=migrate.current(_engine()) or MSG_DB_BASE))


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    click.echo(
        MSG_DB_CURRENT.format(
            current=migrate.current(_engine()) or MSG_DB_BASE, head=migrate.head()
        )
    )


# --- keys --------------------------------------------------------------------------------


OLD_SECRET_KEY_ENV = "OLD_SECRET_KEY"
_PROMPT = "\0prompt"


def rotate_all_secrets(old_keys: Sequence[bytes] = ()) -> int:
    """Re-seals every encrypted column of every plugin table under the newest key.

    Each value is opened with the configured keys plus ``old_keys`` (a key derived from an
    old SECRET_KEY), and sealed again to its own row, so legacy unbound values are bound
    on the way. Core statements, not the ORM: a row no session has loaded is rotated too.
    """
    host_db = extension.state().host.db
    ring = crypto.key_ring()
    opener = ring.with_keys(old_keys)
    count = 0
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, crypto.EncryptedText)]
        if not columns:
            continue
        pk = list(table.primary_key.columns)
        raw = [type_coerce(c, Text).label(c.name) for c in columns]
        rows = host_db.session.execute(select(*pk, *raw)).mappings().all()
        for row in rows:
            key = [row[col.name] for col in pk]
            changes = {}
            for column in columns:
                if row[column.name]:
                    where = crypto.binding(table.name, column.name, key)
                    changes[column.name] = ring.seal(opener.open(row[column.name], where), where)
            if not changes:
                continue
            host_db.session.execute(
                update(table)
                .where(*[col == row[col.name] for col in pk])
                .values(
                    {table.c[name]: type_coerce(value, Text) for name, value in changes.items()}
                )
            )
            count += len(changes)
    host_db.session.commit()
    host_db.session.expire_all()
    return count


def _old_secret_key(value: str | None) -> str | None:
    """The old SECRET_KEY from a hidden prompt, stdin (``-``) or $OLD_SECRET_KEY: argv is
    seen by every user of the machine (``ps``) and kept in shell history, so it warns."""
    if value is None:
        return None
    source = click.get_current_context().get_parameter_source("old_secret_key")
    if value == _PROMPT:
        value = click.prompt(MSG_OLD_SECRET_KEY_PROMPT, hide_input=True, err=True)
    elif value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    elif source is ParameterSource.COMMANDLINE:
        click.echo(MSG_SECRET_ON_ARGV.format(env=OLD_SECRET_KEY_ENV), err=True)
    if not value:
        raise click.ClickException(MSG_OLD_SECRET_KEY_EMPTY)
    return value


@trakt.command("rotate-keys")
@click.option(
    "--old-secret-key",
    "old_secret_key",
    is_flag=False,
    flag_value=_PROMPT,
    default=None,
    envvar=OLD_SECRET_KEY_ENV,
    show_envvar=True,
    help="Also open values encrypted with the key derived from this old "
    "SECRET_KEY. Alone it prompts (hidden); '-' reads a line from stdin.",
)
@with_appcontext
def rotate_keys(old_secret_key: str | None) -> None:
    """After putting a new key first in APERTURE_TRAKT_ENCRYPTION_KEYS (or changing
    SECRET_KEY, with --old-secret-key), re-encrypt everything under the newest key."""
    old = _old_secret_key(old_secret_key)
    count = rotate_all_secrets([crypto.derive_key(old)] if old else [])
    click.echo(MSG_ROTATED.format(count=count))


# --- connections -------------------------------------------------------------------------


def _user_id(name: str) -> int:
    user = extension.state().host.get_user_by_name(name)
    if user is None:
        raise click.ClickException(MSG_NO_SUCH_USER.format(name=name))
    return user.id


@trakt.command("connect")
@click.option("--user", "name", required=True, help="The server user to connect.")
@with_appcontext
def connect_command(name: str) -> None:
    """Connects a user's Trakt account with a device code, for terminals and headless servers."""
    user_id = _user_id(name)
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


@trakt.command("disconnect")
@click.option("--user", "name", required=True, help="The server user to disconnect.")
@with_appcontext
def disconnect_command(name: str) -> None:
    """Revokes the user's Trakt access and forgets the tokens; their ratings stay."""
    if connections.disconnect(_user_id(name)):
        click.echo(MSG_DISCONNECTED.format(name=name))
    else:
        click.echo(MSG_WAS_NOT_CONNECTED.format(name=name))


@trakt.command("status")
@click.option("--user", "name", help="Only this user.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def status_command(name: str | None, as_json: bool) -> None:
    """Each connection: Trakt username, since when, token expiry, trouble, last sync."""
    rows = connections.status(_user_id(name) if name else None)
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


# --- sync --------------------------------------------------------------------------------


@trakt.command("sync")
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
        [_user_id(name)]
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
            result = sync.sync_user_ratings(user_id, dry_run=dry_run, force=force)
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


# --- discovery ---------------------------------------------------------------------------


@trakt.group("discovery", help="Trakt's lists in Discovery: the caches pages read.")
def discovery_group() -> None:
    pass


@discovery_group.command("refresh")
@click.option("--user", "name", help="Only this user's lists (and the server's, if never read).")
@with_appcontext
def discovery_refresh(name: str | None) -> None:
    """Fills the discovery caches in the foreground (the same code the job runs)."""
    from aperture_trakt_plugin.discovery import cache, refresh

    if name:
        user_id = _user_id(name)
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


@trakt.command("discover")
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

    found = [_candidate_json(c) for c in for_list(_user_id(name), ALL, media_type, limit)]
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


@trakt.command("hide")
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

    user_id = _user_id(name)
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


@trakt.command("watchlist")
@click.option("--user", "name", required=True, help="Whose Trakt watchlist.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def watchlist_command(name: str, as_json: bool) -> None:
    """The user's Trakt watchlist as last read, with what the library holds."""
    from aperture_trakt_plugin.discovery.watchlist import watchlist

    items = watchlist(_user_id(name))
    if as_json:
        click.echo(json.dumps([item.as_json() for item in items], indent=2))
        return
    if not items:
        click.echo(MSG_WATCHLIST_EMPTY.format(name=name))
    for item in items:
        flag = " [in library]" if item.in_library else ""
        click.echo(f"{item.kind} {item.title} ({item.year or '?'}){flag}")


def commands() -> list[click.Command]:
    return [trakt]

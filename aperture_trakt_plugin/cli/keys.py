"""``flask trakt rotate-keys``: every encrypted value sealed again under the newest key.

An admin who adds a key or changes SECRET_KEY needs the old values readable and then
re-sealed before the old key can go; this is the one place that walks every encrypted
column of every plugin table to do it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from click.core import ParameterSource
from flask.cli import with_appcontext
from sqlalchemy import Text, select, type_coerce, update

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.cli.arguments import FROM_STDIN, MSG_SECRET_ON_ARGV, PROMPT
from aperture_trakt_plugin.storage import crypto
from aperture_trakt_plugin.storage.models import metadata

MSG_ROTATED = (
    "re-encrypted {count} secret value(s) under the newest key; older keys may now "
    "be removed from APERTURE_TRAKT_ENCRYPTION_KEYS"
)
MSG_OLD_SECRET_KEY_PROMPT = "Old SECRET_KEY"
MSG_OLD_SECRET_KEY_EMPTY = "the old SECRET_KEY is empty: nothing to decrypt with"
OLD_SECRET_KEY_ENV = "OLD_SECRET_KEY"


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
    if value == PROMPT:
        value = click.prompt(MSG_OLD_SECRET_KEY_PROMPT, hide_input=True, err=True)
    elif value == FROM_STDIN:
        value = sys.stdin.readline().rstrip("\r\n")
    elif source is ParameterSource.COMMANDLINE:
        click.echo(MSG_SECRET_ON_ARGV.format(env=OLD_SECRET_KEY_ENV), err=True)
    if not value:
        raise click.ClickException(MSG_OLD_SECRET_KEY_EMPTY)
    return value


@click.command("rotate-keys")
@click.option(
    "--old-secret-key",
    "old_secret_key",
    is_flag=False,
    flag_value=PROMPT,
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

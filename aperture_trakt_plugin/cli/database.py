"""``flask trakt db``: the plugin's own migration lineage, upgraded and downgraded by
hand (down to ``base`` to uninstall), apart from the host's migrations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.storage import migrate

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

MSG_DB_AT = "trakt tables at {revision}"
MSG_DB_CURRENT = "current: {current}; head: {head}"
MSG_DB_BASE = "base (none)"


@click.group("db", help="The plugin's own tables (Alembic lineage 'trakt').")
def db_group() -> None:
    pass


def _engine() -> Engine:
    engine: Engine = extension.state().host.db.engine
    return engine


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

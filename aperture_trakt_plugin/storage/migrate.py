"""Runs the plugin's Alembic lineage against the host's engine.

Its own version table (``alembic_version_trakt``) keeps it apart from the host's
migrations, so the host and the plugin upgrade, and the plugin uninstalls, alone.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

VERSION_TABLE = "alembic_version_trakt"
LINEAGE = "trakt"


def script_location() -> str:
    return str(files("aperture_trakt_plugin.storage.migrations"))


def location() -> tuple[str, str, str]:
    """What ``aperture_migration_locations`` reports: (name, script_location, version_table)."""
    return (LINEAGE, script_location(), VERSION_TABLE)


def _config(connection: object) -> Config:
    from alembic.config import Config  # Alembic only where migrations run: its import is slow

    cfg = Config()
    cfg.set_main_option("script_location", script_location())
    cfg.set_main_option("version_table", VERSION_TABLE)
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_config(conn), revision)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()


@cache
def head() -> str:
    """The lineage's head revision: read once per process, since the migrations shipped
    with the package do not change while it runs (the Jobs screen's panel asks on every
    view)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(script_location()).get_current_head() or ""

"""Alembic environment of the plugin's own lineage.

Run through :mod:`aperture_trakt_plugin.storage.migrate` (or a host's migration hook), which
hands over an open connection and the version table; the plugin never opens its own
database connection, so it always migrates the host's database.
"""

from alembic import context

from aperture_trakt_plugin.storage.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run these migrations through `flask trakt db upgrade` or the host's "
        "migration hook; they need the host's database connection"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=config.get_main_option("version_table") or "alembic_version_trakt",
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

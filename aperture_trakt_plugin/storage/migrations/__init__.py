"""The plugin's own Alembic lineage (version table alembic_version_trakt)."""

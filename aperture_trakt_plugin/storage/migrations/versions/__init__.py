"""Alembic revisions of the plugin."""

"""trakt_connections and trakt_device_grants: users' Trakt links (tokens encrypted).

Revision ID: 0002_connections
Revises: 0001_settings
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_connections"
down_revision = "0001_settings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trakt_connections",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("trakt_username", sa.String(255), nullable=False),
        sa.Column("trakt_slug", sa.String(255), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("scope", sa.String(255), nullable=True),
        sa.Column("connected_at", sa.DateTime(), nullable=False),
        sa.Column("needs_reconnect", sa.Boolean(), nullable=False),
        sa.Column("reconnect_reason", sa.Text(), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("last_activities", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_trakt_connections"),
    )
    op.create_table(
        "trakt_device_grants",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("device_code", sa.Text(), nullable=False),
        sa.Column("user_code", sa.String(32), nullable=False),
        sa.Column("verification_url", sa.String(512), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_trakt_device_grants"),
    )


def downgrade() -> None:
    op.drop_table("trakt_device_grants")
    op.drop_table("trakt_connections")

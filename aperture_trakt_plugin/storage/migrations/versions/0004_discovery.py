"""Discovery: cached Trakt lists and titles users are not interested in.

Revision ID: 0004_discovery
Revises: 0003_rating_sync
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_discovery"
down_revision = "0003_rating_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trakt_discovery_lists",
        sa.Column("scope", sa.String(96), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("scope", name="pk_trakt_discovery_lists"),
    )
    op.create_table(
        "trakt_hidden",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("trakt", sa.Integer(), nullable=True),
        sa.Column("tmdb", sa.Integer(), nullable=True),
        sa.Column("imdb", sa.String(16), nullable=True),
        sa.Column("tvdb", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("hidden_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "item_key", name="pk_trakt_hidden"),
    )


def downgrade() -> None:
    op.drop_table("trakt_hidden")
    op.drop_table("trakt_discovery_lists")

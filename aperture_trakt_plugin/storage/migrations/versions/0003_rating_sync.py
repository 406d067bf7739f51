"""Rating sync: the ledger, the outbox, and per-connection sync state.

Revision ID: 0003_rating_sync
Revises: 0002_connections
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_rating_sync"
down_revision = "0002_connections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trakt_ledger",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=True),
        sa.Column("trakt", sa.Integer(), nullable=True),
        sa.Column("tmdb", sa.Integer(), nullable=True),
        sa.Column("imdb", sa.String(16), nullable=True),
        sa.Column("tvdb", sa.Integer(), nullable=True),
        sa.Column("season", sa.Integer(), nullable=True),
        sa.Column("episode", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "item_key", name="pk_trakt_ledger"),
    )
    op.create_table(
        "trakt_outbox",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "item_id", name="pk_trakt_outbox"),
    )
    with op.batch_alter_table("trakt_connections") as batch:
        batch.add_column(sa.Column("ratings_marker", sa.Text(), nullable=True))
        batch.add_column(sa.Column("blocked_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_sync_summary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trakt_connections") as batch:
        batch.drop_column("last_sync_summary")
        batch.drop_column("blocked_reason")
        batch.drop_column("ratings_marker")
    op.drop_table("trakt_outbox")
    op.drop_table("trakt_ledger")

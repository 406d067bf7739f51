"""trakt_settings: the admin's Trakt app credentials (secret encrypted).

Revision ID: 0001_settings
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_settings"
down_revision = None
branch_labels = ("trakt",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trakt_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_trakt_settings"),
    )


def downgrade() -> None:
    op.drop_table("trakt_settings")

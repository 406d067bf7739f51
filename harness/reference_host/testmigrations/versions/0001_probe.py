"""demo_probe: a table owned by the host's migration test plugin.

Revision ID: 0001_probe
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_probe"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("demo_probe", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("demo_probe")

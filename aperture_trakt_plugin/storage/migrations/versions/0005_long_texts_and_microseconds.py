"""MariaDB and MySQL: texts of any length, times to the microsecond.

Their plain ``TEXT`` holds 64 KiB and their plain ``DATETIME`` whole seconds, which the
first four revisions created there (``sa.Text``, ``sa.DateTime``). Widened in place; on
every other database this revision changes nothing.

Revision ID: 0005_long_texts_and_microseconds
Revises: 0004_discovery
Create Date: 2026-12-04
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005_long_texts_and_microseconds"
down_revision = "0004_discovery"
branch_labels = None
depends_on = None

MYSQL_DIALECTS = ("mysql", "mariadb")
#: Every text and time column the first four revisions made: (table, column, nullable).
TEXTS = (
    ("trakt_settings", "value", True),
    ("trakt_settings", "secret", True),
    ("trakt_connections", "access_token", False),
    ("trakt_connections", "refresh_token", True),
    ("trakt_connections", "reconnect_reason", True),
    ("trakt_connections", "last_error", True),
    ("trakt_connections", "last_activities", True),
    ("trakt_connections", "ratings_marker", True),
    ("trakt_connections", "blocked_reason", True),
    ("trakt_connections", "last_sync_summary", True),
    ("trakt_device_grants", "device_code", False),
    ("trakt_outbox", "reason", True),
    ("trakt_discovery_lists", "payload", False),
    ("trakt_discovery_lists", "error", True),
    ("trakt_hidden", "reason", True),
)
TIMES = (
    ("trakt_settings", "updated_at", False),
    ("trakt_connections", "token_created_at", False),
    ("trakt_connections", "expires_at", False),
    ("trakt_connections", "connected_at", False),
    ("trakt_connections", "last_sync_at", True),
    ("trakt_connections", "last_error_at", True),
    ("trakt_device_grants", "expires_at", False),
    ("trakt_device_grants", "next_poll_at", False),
    ("trakt_ledger", "rated_at", False),
    ("trakt_outbox", "at", False),
    ("trakt_discovery_lists", "fetched_at", True),
    ("trakt_discovery_lists", "error_at", True),
    ("trakt_hidden", "hidden_at", False),
    ("trakt_hidden", "sent_at", True),
)


def _alter(text: sa.types.TypeEngine[Any], time: sa.types.TypeEngine[Any]) -> None:
    if op.get_bind().dialect.name not in MYSQL_DIALECTS:
        return
    for columns, type_ in ((TEXTS, text), (TIMES, time)):
        for table, column, nullable in columns:
            op.alter_column(table, column, type_=type_, existing_nullable=nullable)


def upgrade() -> None:
    _alter(mysql.LONGTEXT(), mysql.DATETIME(fsp=6))


def downgrade() -> None:
    _alter(sa.Text(), sa.DateTime())

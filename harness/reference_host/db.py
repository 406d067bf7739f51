"""The host's database handle and the UTC datetime column type.

The host keeps one Flask-SQLAlchemy instance; plugins share its session and engine but
keep their tables on their own metadata, which is why ``create_host_tables`` creates the
host's tables only and leaves everything else to each plugin's migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Table, event, text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

db = SQLAlchemy()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always returns timezone-aware UTC.

    SQLite keeps no offset, so a naive value read back would silently change meaning
    when compared with aware values; converting on both ways keeps the contract's
    "all times are aware UTC" true on every backend. Naive input is a caller bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        # MariaDB's and MySQL's plain DATETIME keep whole seconds; ratings carry more.
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects import mysql

            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the host stores aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # SQLite only: the text sqlite3's own adapter would store (``isoformat(" ")``), made
    # in one call per value; a sync writes and reads ratings by the hundred thousand,
    # and the general path costs three Python calls per value.

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return lambda text: None if text is None else datetime.fromisoformat(text + "+00:00")


def _sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the host stores aware UTC only")
        value = value.astimezone(UTC)
    return value.isoformat(" ")[: -len("+00:00")]


def advance_id_sequence(table: Table) -> None:
    """After inserting rows with ids chosen here, moves PostgreSQL's id sequence past them.

    SQLite picks the next id from the table itself; PostgreSQL's ``SERIAL`` sequence knows
    nothing of ids it did not hand out, so the next ordinary insert would reuse id 1.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(
        text(
            "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
        ),
        {"table": table.name},
    )


def tune_sqlite(engine: Engine) -> None:
    """WAL and a busy timeout, because the web app and the RQ worker share one file.

    Without WAL a reader (the run page) waits for the worker's write transaction, and
    without a busy timeout a second writer fails at once instead of waiting its turn.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

"""The column types that keep what the plugin stores the same on every database: times
in aware UTC to the microsecond, texts of any length.

SQLite, PostgreSQL, MariaDB and MySQL each lose something else by default (SQLite the
zone, MariaDB the fraction of a second and everything past 64 KiB of text), and the
merge compares what it reads back with what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

#: The dialects of MariaDB and MySQL (SQLAlchemy names MariaDB ``mysql`` when the URL
#: says so), whose plain ``TEXT`` holds 64 KiB and plain ``DATETIME`` whole seconds.
MYSQL_DIALECTS = ("mysql", "mariadb")


def long_text(dialect: Any) -> Any:
    """The column type of a text of any length: ``LONGTEXT`` where ``TEXT`` is 64 KiB."""
    return dialect.type_descriptor(mysql.LONGTEXT() if dialect.name in MYSQL_DIALECTS else Text())


class LongText(TypeDecorator[str]):
    """Text of any length on every database: a cached watch history of 1,500 titles is
    past MariaDB's 64 KiB ``TEXT`` ("Data too long")."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        return long_text(dialect)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC: SQLite keeps no zone, and merges compare times.
    To the microsecond on every database: MariaDB's plain ``DATETIME`` drops the
    fraction, and a rating read back earlier than it was written looks changed.

    On SQLite a value is turned into the driver's text in one step each way: a first sync
    binds 100,000 of them into the ledger, and the general path took three Python calls
    per value (this type's conversion, the decorator's wrapper, then sqlite3's own
    adapter), a tenth of the sync's time. The text is the one that adapter makes,
    ``isoformat(" ")``, so rows written either way read and compare alike.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in MYSQL_DIALECTS:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def bind_processor(self, dialect: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        naive_utc = self.process_bind_param

        def as_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is UTC:  # the usual case: no conversion, and "+00:00" cut off
                return value.isoformat(" ")[:-6]  # (``replace`` alone costs twice as much)
            naive = naive_utc(value, dialect)
            assert naive is not None  # a datetime given, a datetime back
            return naive.isoformat(" ")

        return as_text

    def result_processor(self, dialect: Any, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat
        return lambda value: None if value is None else parse(value + "+00:00")

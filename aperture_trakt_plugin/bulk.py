"""Inserting many rows at once, at the database driver's own speed.

A first sync records up to 100,000 ledger rows. SQLAlchemy's ``executemany`` spends
about as long preparing each row's parameters as SQLite spends storing it, so on a
driver with positional parameters (SQLite's ``?``) the statement is compiled once and
the rows go to the driver as tuples, each value through its column type's own bind
processor (UTC times, for one). Elsewhere (PostgreSQL) SQLAlchemy's batched
"insertmanyvalues" path is already the fast one, and is used as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session


def insert_rows(session: Session, table: Table, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """Inserts ``rows`` (value tuples in the order of ``columns``) in the session's
    transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if not dialect.positional:
        session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    statement = insert(table).values({name: None for name in columns}).compile(
        dialect=dialect)
    # The compiled statement names its positions; rows come in the order of ``columns``.
    # Rows are turned into columns and back (both in C), so only the values that need a
    # conversion pass through Python, a column at a time: a loop over the rows took
    # longer than SQLite takes to store them.
    given = dict(zip(columns, zip(*rows, strict=True), strict=True))
    in_order: list[Sequence[Any]] = []
    for name in statement.positiontup or ():
        process = table.c[name].type.bind_processor(dialect)
        column = given[name]
        # Bind processors take None too (SQLAlchemy calls them with every value).
        in_order.append(column if process is None else list(map(process, column)))
    connection.exec_driver_sql(str(statement), list(zip(*in_order, strict=True)))

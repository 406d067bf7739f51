"""Running one statement for many rows at once, at the database driver's own speed.

A first sync records up to 100,000 ledger rows. SQLAlchemy's ``executemany`` spends
about as long preparing each row's parameters as SQLite spends storing it, so on a
driver with positional parameters (SQLite's ``?``) the statement is compiled once and
the rows go to the driver as tuples, each value through its parameter type's own bind
processor (UTC times, for one), a column at a time. Elsewhere (PostgreSQL) SQLAlchemy's
own batched paths are already the fast ones, and are used as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Inserts ``rows`` (value tuples in the order of ``columns``) in the session's
    transaction."""
    if rows:
        statement = insert(table)
        if session.connection().dialect.positional:
            statement = statement.values({name: bindparam(name) for name in columns})
        execute_rows(session, statement, columns, rows)


def execute_rows(
    session: Session, statement: UpdateBase, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Runs ``statement`` once per row in the session's transaction: ``rows`` are value
    tuples in the order of ``names``, the statement's bound parameters (each one given)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if not dialect.positional:
        session.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])
        return
    compiled = statement.compile(dialect=dialect)
    # The compiled statement names its positions; rows come in the order of ``names``.
    # Rows are turned into columns and back (both in C), so only the values that need a
    # conversion pass through Python, a column at a time: a loop over the rows took
    # longer than SQLite takes to store them.
    given = dict(zip(names, zip(*rows, strict=True), strict=True))
    in_order: list[Sequence[Any]] = []
    for name in compiled.positiontup or ():
        process = compiled.binds[name].type.bind_processor(dialect)
        column = given[name]
        # Bind processors take None too (SQLAlchemy calls them with every value).
        in_order.append(column if process is None else list(map(process, column)))
    connection.exec_driver_sql(str(compiled), list(zip(*in_order, strict=True)))

"""Large reads and writes on the current transaction's own connection.

A draw fixes a pool of up to a million ids and writes thousands of rows; going through
Piccolo row objects and dicts would cost more than the work itself. These two helpers
speak to the driver directly (tuples out; executemany / COPY in) inside ``write_tx()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.core.db import current_engine, is_sqlite


def _connection() -> Any:
    transaction = current_engine().current_transaction.get()
    if transaction is None:
        raise RuntimeError("bulk reads and writes must run inside write_tx()")
    return transaction.connection


async def fetch_rows(sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
    """Rows of ``sql`` (``?`` placeholders) as tuples."""
    connection = _connection()
    # aiosqlite and asyncpg connections are untyped here (``Any``): hence the ignores below.
    if is_sqlite():
        # One call into the connection's thread (not cursor, execute, fetch): a caller may
        # start the next query and work on this one's rows while SQLite runs it.
        # Plain tuples need the connection's row factory off for the call (Piccolo's
        # queries on this transaction want their dicts back): one such read at a time.
        if getattr(connection, "_fieldcase_bulk_read", False):
            raise RuntimeError("one bulk read at a time on a transaction's connection")
        factory = connection.row_factory
        connection.row_factory = None
        connection._fieldcase_bulk_read = True
        try:
            rows = await connection.execute_fetchall(sql, tuple(params))
        finally:
            connection.row_factory = factory
            connection._fieldcase_bulk_read = False
        return rows  # type: ignore[no-any-return]
    parts = sql.split("?")
    numbered = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))
    return await connection.fetch(numbered, *params)  # type: ignore[no-any-return]


async def insert_rows(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (Python values: UUID, date, datetime, list...) into ``table``."""
    if not rows:
        return
    connection = _connection()
    # aiosqlite and asyncpg connections are untyped here (``Any``): hence the ignores below.
    if is_sqlite():
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        await connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
        return
    await connection.copy_records_to_table(table, records=rows, columns=list(columns))

"""Queries on any sealed column (``backoffice.sealing.SEALED_COLUMNS``): read its values a
batch at a time, and swap one value for another only if it is still the one read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, select, update


def sealed_values(conn: Connection, table: Table, key: str, context_from: str, column: str,
                  *, after: Any, limit: int) -> list[tuple[Any, str, bytes]]:
    """(key, the context column's value, the sealed bytes) of up to ``limit`` rows with a
    value, in key order after ``after`` (None: from the first)."""
    k, c = table.c[key], table.c[column]
    query = select(k, table.c[context_from], c).where(c.is_not(None))
    if after is not None:
        query = query.where(k > after)
    rows = conn.execute(query.order_by(k).limit(limit)).all()
    return [(row[0], str(row[1]), bytes(row[2])) for row in rows]


def swap_sealed(conn: Connection, table: Table, key: str, column: str, row_key: Any,
                old: bytes, new: bytes) -> bool:
    """Replace the row's value with ``new`` if it still is ``old``: False when a writer
    changed it meanwhile (its new value was sealed with the key that seals now)."""
    k, c = table.c[key], table.c[column]
    result = conn.execute(update(table).where(k == row_key, c == old).values({column: new}))
    return result.rowcount == 1


def count_values(conn: Connection, table: Table, column: str) -> int:
    c = table.c[column]
    return int(conn.execute(select(func.count()).select_from(table)
                            .where(c.is_not(None))).scalar_one())

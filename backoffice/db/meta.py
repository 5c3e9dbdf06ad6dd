"""The ``meta`` table: a few named values (the server key's id, the last summary's time)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from backoffice.db import tables as t


def get_meta(conn: Connection, name: str) -> str | None:
    row = conn.execute(select(t.meta.c.value).where(t.meta.c.name == name)).first()
    return None if row is None else str(row.value)


def set_meta(conn: Connection, name: str, value: str) -> None:
    conn.execute(delete(t.meta).where(t.meta.c.name == name))
    conn.execute(insert(t.meta).values(name=name, value=value))


def delete_meta(conn: Connection, name: str) -> None:
    conn.execute(delete(t.meta).where(t.meta.c.name == name))


def swap_meta(conn: Connection, name: str, old: str | None, new: str) -> bool:
    """Compare-and-set a meta value: False when another process changed it first."""
    if old is None:
        if get_meta(conn, name) is not None:
            return False
        try:
            with conn.begin_nested():
                conn.execute(insert(t.meta).values(name=name, value=new))
        except IntegrityError:  # another process inserted it first (PostgreSQL)
            return False
        return True
    result = conn.execute(update(t.meta).where(t.meta.c.name == name, t.meta.c.value == old)
                          .values(value=new))
    return result.rowcount == 1

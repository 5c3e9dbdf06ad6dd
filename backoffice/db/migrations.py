"""Creating and upgrading the tables, step by numbered step (``tables.SCHEMA_VERSION``).

The DDL of each step is here; the data a step has to rewrite (version 3 seals the URLs
with credentials, version 5 gives tokens ids and names) is the caller's ``on_upgrade``
(the sealing needs the server key). A step's new indexes are made after its rewrite, so
a unique one sees the column filled.
A step with nothing registered is still run and recorded: it just adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, func, insert, inspect, select

from backoffice.db import tables as t
from backoffice.db.engine import Database
from backoffice.errors import SetupError


def _add_column(conn: Connection, column: Column[Any]) -> None:
    """ALTER TABLE ... ADD COLUMN for a nullable column (skipped when it exists)."""
    table = column.table.name
    if column.name in {c["name"] for c in inspect(conn).get_columns(table)}:
        return
    kind = column.type.compile(dialect=conn.dialect)
    prep = conn.dialect.identifier_preparer
    conn.exec_driver_sql(f"ALTER TABLE {prep.quote(table)} "
                         f"ADD COLUMN {prep.quote(column.name)} {kind}")


def create_schema(conn: Connection) -> None:
    """Every table of this version, in an empty database (a new one, or a copy's target)."""
    t.metadata.create_all(conn)


def migrate(db: Database, on_create: Callable[[Connection], None] | None,
            on_upgrade: Callable[[Connection, int], None]) -> bool:
    """Create or upgrade the schema; True when the database was empty and got created.

    ``on_create(conn)`` fills a new database (the demo merchant), when given.
    ``on_upgrade(conn, step)`` runs after each step's DDL, in the same transaction,
    for the data a step has to rewrite.
    """
    with db.exclusive() as conn:  # two processes opening a new database take turns
        names = set(inspect(conn).get_table_names())
        if "schema_version" not in names:
            if names:
                raise SetupError(
                    "the database has tables but no schema_version: "
                    "it is not a webhooks backoffice database"
                )
            create_schema(conn)
            conn.execute(insert(t.schema_version).values(version=t.SCHEMA_VERSION))
            if on_create is not None:
                on_create(conn)
            return True
        version = conn.execute(select(func.max(t.schema_version.c.version))).scalar_one()
        if version is None or version > t.SCHEMA_VERSION:
            raise SetupError(
                f"the database schema is version {version}, newer than this backoffice "
                f"(version {t.SCHEMA_VERSION}): upgrade the backoffice"
            )
        for step in range(version + 1, t.SCHEMA_VERSION + 1):
            for table in t.MIGRATIONS.get(step, ()):
                table.create(conn, checkfirst=True)
            for column in t.NEW_COLUMNS.get(step, ()):
                _add_column(conn, column)
            on_upgrade(conn, step)
            for index in t.NEW_INDEXES.get(step, ()):
                index.create(conn, checkfirst=True)
            conn.execute(insert(t.schema_version).values(version=step))
        return False

"""Copying a backoffice database into an empty one (SQLite to PostgreSQL, or to SQLite).

Every table of ``tables.metadata`` is copied in dependency order, keys included, through
SQLAlchemy Core (no dialect's SQL), in one transaction on the target: a failed copy leaves
no half-filled target. The target's schema is created as a new database's is
(``migrations.create_schema``); the source's ``schema_version`` and ``meta`` rows (the
server key's id among them) come with the rest. Sealed columns (``secret_sealed``,
``url_sealed``) are bytes copied as they are: the server key is neither needed nor read,
and the copy must be served with the source's key.

The source is read in one transaction (a snapshot on SQLite; REPEATABLE READ on
PostgreSQL); writes that a running server makes meanwhile are not in the copy, so stop
the server first. Afterwards the rows of every table are counted on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, func, inspect, select
from sqlalchemy.engine import URL

from backoffice.db import tables as t
from backoffice.db.engine import Database, parse_url, sqlite_file
from backoffice.db.migrations import create_schema
from backoffice.errors import SetupError

BATCH = 1000  # rows read and inserted at a time


@dataclass(frozen=True)
class Copied:
    """What a copy did: the rows of each table, in the order they were copied."""

    counts: tuple[tuple[str, int], ...]

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.counts)


def shown(url: URL) -> str:
    """A database URL for messages, its password masked."""
    return url.render_as_string(hide_password=True)


def _place(url: URL) -> tuple[str, ...]:
    """What names one database, whatever the driver, user or options."""
    path = sqlite_file(url)
    if path is not None:
        return ("sqlite", str(path.expanduser().resolve()))
    return (url.get_backend_name(), (url.host or "").lower(), str(url.port or ""),
            url.database or "")


def check_urls(source: URL, target: URL) -> None:
    """Refuse memory databases, and the same database as both source and target."""
    for role, url in (("source", source), ("target", target)):
        if url.get_backend_name() == "sqlite" and sqlite_file(url) is None:
            raise SetupError(f"the {role} is an in-memory database, which another process "
                             "cannot see: give a database file or server")
    same = _place(source) == _place(target)
    src, dst = sqlite_file(source), sqlite_file(target)
    if src is not None and dst is not None and src.exists() and dst.exists():
        same = same or src.samefile(dst)
    if same:
        raise SetupError(f"the source and the target are the same database ({shown(source)}): "
                         "copy into a new, empty one")


def _version(conn: Connection) -> int | None:
    return conn.execute(select(func.max(t.schema_version.c.version))).scalar_one_or_none()


def check_source(conn: Connection, url: URL) -> None:
    """The source must be a backoffice database at this code's schema version."""
    names = set(inspect(conn).get_table_names())
    if "schema_version" not in names:
        raise SetupError(f"the source {shown(url)} is not a webhooks backoffice database "
                         "(it has no schema_version table)")
    version = _version(conn)
    if version is None or version < t.SCHEMA_VERSION:
        raise SetupError(
            f"the source {shown(url)} is at schema version {version}, older than this code "
            f"(version {t.SCHEMA_VERSION}): run the source's migrations first (open it once "
            "with this version, e.g. `webhooks serve --db` on it with its server key), "
            "then copy")
    if version > t.SCHEMA_VERSION:
        raise SetupError(
            f"the source {shown(url)} is at schema version {version}, newer than this code "
            f"(version {t.SCHEMA_VERSION}): copy it with the newer version of webhooks")


def check_target(conn: Connection, url: URL) -> None:
    """The target must have no table at all."""
    names = sorted(inspect(conn).get_table_names())
    if names:
        listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise SetupError(f"the target {shown(url)} is not empty (it has tables: {listed}): "
                         "copy into a new, empty database")


def _order(table: Table) -> list[Any]:
    return list(table.primary_key.columns) or list(table.columns)


def rows_of(conn: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    """A table's rows in primary-key order, ``BATCH`` at a time."""
    result = conn.execution_options(yield_per=BATCH).execute(
        select(table).order_by(*_order(table)))
    for part in result.mappings().partitions(BATCH):
        yield [dict(row) for row in part]


def count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL: the serial keys continue after the copied ones."""
    if conn.dialect.name != "postgresql":
        return
    for table in t.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)")


def _snapshot(db: Database) -> Any:
    conn = db.engine.connect()
    if db.engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def copy_database(source: Database, target: Database) -> Copied:
    """Copy every table of ``source`` into the empty ``target``; the row counts."""
    src_url, dst_url = source.engine.url, target.engine.url
    check_urls(src_url, dst_url)
    copied: list[tuple[str, int]] = []
    with _snapshot(source) as read, read.begin():
        check_source(read, src_url)
        with target.write() as write:
            check_target(write, dst_url)
            create_schema(write)
            for table in t.metadata.sorted_tables:
                n = 0
                for batch in rows_of(read, table):
                    write.execute(table.insert(), batch)
                    n += len(batch)
                copied.append((table.name, n))
            _reset_sequences(write)
    verify(source, target, dict(copied))
    return Copied(tuple(copied))


def verify(source: Database, target: Database, expected: dict[str, int]) -> None:
    """Count every table's rows on both sides; they must be what was copied."""
    with source.read() as src, target.read() as dst:
        for table in t.metadata.sorted_tables:
            got = (count(src, table), count(dst, table))
            if got != (expected[table.name],) * 2:
                raise SetupError(
                    f"table {table.name}: {expected[table.name]} rows copied, but the source "
                    f"has {got[0]} and the target {got[1]} (was the source written to "
                    "during the copy? stop its server and copy into a new database)")


def open_for_copy(url: str) -> tuple[Database, Path | None]:
    """Open a database URL; for a SQLite file, also the file when it did not exist yet
    (the caller removes it again if the copy fails)."""
    parsed = parse_url(url)
    path = sqlite_file(parsed)
    created = path if path is not None and not path.exists() else None
    return Database.open(url), created

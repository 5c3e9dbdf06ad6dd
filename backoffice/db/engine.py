"""The database connection: engine setup and short transactions (the queries live beside).

SQLite by default (WAL, ``synchronous=FULL``: a committed write survives a killed
process and a power cut; foreign keys on; a busy timeout) or PostgreSQL (``postgres``:
psycopg, a pool, a lock timeout) through SQLAlchemy Core.
Write transactions on SQLite start with ``BEGIN IMMEDIATE``: the read-then-write rules
(unique names, idempotency keys, versions) then cannot interleave between processes.
Within one process they queue on a lock first (``_writers``): a writer waiting for
SQLite's lock polls it with growing sleeps, so under load the lock would stand free
between commits while every waiter sleeps; the queue hands it on at once.
PostgreSQL runs READ COMMITTED: those rules rest there on unique constraints (a losing
writer gets an IntegrityError and looks again), compare-and-set updates and row locks
(``lock_for_write``); schema changes take an advisory lock (``exclusive``).
A transaction that meets a busy database (SQLite's lock; PostgreSQL's serialization
failures, deadlocks, lock timeouts, lost connections, a full pool) raises ``Unavailable``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import StaticPool

from backoffice.db import postgres
from backoffice.db import tables as t
from backoffice.errors import SetupError, Unavailable
from contract import private_files
from contract.rules import unsafe_character_problem

BUSY_TIMEOUT_MS = 5000


def parse_url(db_url: str) -> URL:
    if (problem := unsafe_character_problem(db_url)) is not None:  # never quoted: a password
        raise SetupError(f"the database URL is not valid: it {problem}")
    try:
        return make_url(db_url)
    except ArgumentError:
        raise SetupError(
            "the database URL is not valid: use e.g. sqlite:////var/lib/webhooks/backoffice.db"
        ) from None


def sqlite_file(url: URL) -> Path | None:
    """The database file of a sqlite URL; None for memory databases and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    name = url.database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        return None
    return Path(name)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the sqlite3 module; _on_sqlite_begin emits it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _is_busy(exc: DBAPIError, dialect: str) -> bool:
    """Whether the error says "busy, retry later" rather than "wrong"."""
    if dialect == "postgresql":
        return exc.connection_invalidated or postgres.is_transient(exc.orig)
    if not isinstance(exc, OperationalError):
        return False
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


class Database:
    """One engine and its short transactions; every part of the backoffice shares one."""

    def __init__(self, engine: Engine, *, serialise: bool = False) -> None:
        self.engine = engine
        # A memory database is one shared connection: transactions must take turns.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if serialise else contextlib.nullcontext()
        )
        # SQLite's writers of this process, one at a time (see the module's docstring).
        self._writers: threading.RLock | None = (
            threading.RLock() if engine.dialect.name == "sqlite" and not serialise else None)

    @classmethod
    def open(cls, db_url: str, *, pool_size: int | None = None) -> Database:
        """Connect (creating a SQLite file's directory); the caller then runs ``migrate``.
        ``pool_size``: PostgreSQL's connection pool (else the URL's, else 10)."""
        url = parse_url(db_url)
        if url.get_backend_name() == "postgresql":
            url, options = postgres.engine_options(url, pool_size)
            try:
                engine = create_engine(url, **options)
            except Exception as exc:  # a bad option
                raise SetupError(f"cannot use database {url.render_as_string()}: {exc}") from exc
            event.listen(engine, "connect", postgres.on_connect)
            event.listen(engine, "before_cursor_execute", postgres.without_nul, retval=True)
            return cls(engine)
        if url.get_backend_name() != "sqlite":
            raise SetupError(f"cannot use database {url.render_as_string()}: the backoffice "
                             "runs on sqlite:////absolute/path/backoffice.db or "
                             "postgresql+psycopg://user@host:5432/name")
        path = sqlite_file(url)
        memory = url.database in (None, "", ":memory:")
        if path is not None:
            try:
                private_files.make_folder(path.parent)
            except OSError as exc:
                raise SetupError(f"cannot create the directory {path.parent}: {exc}") from exc
            try:  # 0600 before SQLite opens it: its -wal, -shm and -journal files copy the mode
                private_files.ensure_file(path)
            except OSError as exc:
                raise SetupError(f"cannot create the database file {path}: "
                                 f"{exc.strerror or exc}") from exc
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return cls(engine, serialise=memory)

    def files(self) -> list[Path]:
        """A SQLite database's files (the database, its WAL, shared memory and journal),
        those that exist; none for PostgreSQL or a memory database."""
        path = sqlite_file(self.engine.url)
        if path is None:
            return []
        found = [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
        return [p for p in found if p.exists()]

    @property
    def url(self) -> str:
        """The database URL with any password masked, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def location(self) -> str:
        """Where the data is, for people: a SQLite file's absolute path (a relative URL
        resolved from the current directory), else the URL with any password masked."""
        path = sqlite_file(self.engine.url)
        return f"file {path.resolve()}" if path is not None else self.url

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def _transaction(self, *, write: bool, exclusive: bool = False,
                     wait: bool = True) -> Iterator[Connection]:
        if not write or self._writers is None:
            with self._run(write=write, exclusive=exclusive) as conn:
                yield conn
            return
        # As long as SQLite itself would wait for its lock before answering "busy"; not
        # at all for a write that may be skipped.
        if not self._writers.acquire(timeout=BUSY_TIMEOUT_MS / 1000 if wait else 0):
            raise Unavailable("the database is busy; retry in a moment")
        try:
            with self._run(write=True, exclusive=exclusive) as conn:
                yield conn
        finally:
            self._writers.release()

    @contextlib.contextmanager
    def _run(self, *, write: bool, exclusive: bool) -> Iterator[Connection]:
        with self._lock:
            try:
                with self.engine.connect() as conn:
                    if write:
                        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
                    with conn.begin():
                        if exclusive and self.dialect == "postgresql":
                            conn.execute(select(func.pg_advisory_xact_lock(
                                postgres.SETUP_LOCK_KEY)))
                        yield conn
            except DBAPIError as exc:
                if _is_busy(exc, self.dialect):
                    raise Unavailable("the database is busy; retry in a moment") from exc
                raise
            except PoolTimeout as exc:
                raise Unavailable("every database connection is in use; "
                                  "retry in a moment") from exc

    def read(self) -> contextlib.AbstractContextManager[Connection]:
        return self._transaction(write=False)

    def write(self, *, wait: bool = True) -> contextlib.AbstractContextManager[Connection]:
        """A write transaction, committed when the block ends without error. ``wait``:
        False for bookkeeping a caller may skip (Unavailable at once while another writer
        of this process holds SQLite's lock, rather than after queueing for it)."""
        return self._transaction(write=True, wait=wait)

    def exclusive(self) -> contextlib.AbstractContextManager[Connection]:
        """A write transaction that no other ``exclusive`` one overlaps, across processes
        (schema changes, the server key check): on SQLite every write is; PostgreSQL
        takes a transaction-level advisory lock."""
        return self._transaction(write=True, exclusive=True)

    def ping(self) -> None:
        """Raise when the database cannot be read (for health checks): a table read, so a
        missing or unreadable file fails too, not only a dead connection."""
        with self.read() as conn:
            conn.execute(select(t.merchants.c.id).limit(1)).first()

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file and empty it (after a migration
        rewrote secrets, so no old page lingers in the WAL)."""
        if self.engine.dialect.name == "sqlite" and sqlite_file(self.engine.url) is not None:
            with self._lock, self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

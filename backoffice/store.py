"""Storage: engine setup, transactions, schema migration and the queries the service needs.

SQLite by default (WAL, ``synchronous=FULL``: a committed write survives a killed
process and a power cut; foreign keys on; a busy timeout) through SQLAlchemy Core,
with no SQLite-only SQL in the queries, so PostgreSQL is a change of URL.
Write transactions on SQLite start with ``BEGIN IMMEDIATE``: the read-then-write rules
(unique names, idempotency keys, versions) then cannot interleave between processes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import StaticPool

from backoffice import schema as t
from backoffice.errors import SetupError, Unavailable

BUSY_TIMEOUT_MS = 5000


class WebhookRecord(NamedTuple):
    """One stored webhook, secret still sealed (a named tuple: a page builds 1000 fast)."""

    pk: int
    id: str
    merchant_id: str
    name: str
    type: str
    url: str | None
    email: str | None
    app_kind: str
    app_ref: str | None
    support_email: str | None
    format: str | None
    enabled: bool
    description: str
    secret_sealed: bytes | None
    secret_fingerprint: str | None
    labels: dict[str, str]
    version: int
    created_at: str
    updated_at: str
    notifications: tuple[str, ...]

    @property
    def application(self) -> str:
        return self.app_kind if self.app_ref is None else f"{self.app_kind}:{self.app_ref}"


_wn = t.webhook_notifications.c
# Each row carries its notifications as one "a,b" string from a correlated subquery
# (group_concat / string_agg per backend): one query per page, no second round trip.
_NOTIFICATIONS = (
    select(func.aggregate_strings(_wn.notification, ","))
    .where(_wn.webhook_pk == t.webhooks.c.pk)
    .correlate(t.webhooks)
    .scalar_subquery()
)
_RECORD_COLUMNS = [t.webhooks.c[name] for name in WebhookRecord._fields if name != "notifications"]
_SELECT_RECORDS = select(*_RECORD_COLUMNS, _NOTIFICATIONS)


def _record(row: Sequence[Any]) -> WebhookRecord:
    values = list(row)  # the record's fields in order, notifications last
    values[-1] = tuple(sorted(values[-1].split(","))) if values[-1] else ()
    return WebhookRecord._make(values)


def parse_url(db_url: str) -> URL:
    try:
        return make_url(db_url)
    except ArgumentError:
        raise SetupError(
            "the database URL is not valid: use e.g. sqlite:///path/backoffice.db"
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


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


class Store:
    """The database: one engine, short transactions, typed queries."""

    def __init__(self, engine: Engine, *, serialise: bool = False) -> None:
        self.engine = engine
        # A memory database is one shared connection: transactions must take turns.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if serialise else contextlib.nullcontext()
        )

    @classmethod
    def open(cls, db_url: str) -> Store:
        """Connect (creating a SQLite file's directory); the caller then runs ``migrate``."""
        url = parse_url(db_url)
        if url.get_backend_name() != "sqlite":
            try:
                return cls(create_engine(url, pool_pre_ping=True))
            except Exception as exc:  # a missing driver, a bad option
                raise SetupError(f"cannot use database {url.render_as_string()}: {exc}") from exc
        path = sqlite_file(url)
        memory = url.database in (None, "", ":memory:")
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SetupError(f"cannot create the directory {path.parent}: {exc}") from exc
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return cls(engine, serialise=memory)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        with self._lock:
            try:
                with self.engine.connect() as conn:
                    if write:
                        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
                    with conn.begin():
                        yield conn
            except OperationalError as exc:
                if _is_busy(exc):
                    raise Unavailable("the database is busy; retry in a moment") from exc
                raise

    def read(self) -> contextlib.AbstractContextManager[Connection]:
        return self._transaction(write=False)

    def write(self) -> contextlib.AbstractContextManager[Connection]:
        """A write transaction, committed when the block ends without error."""
        return self._transaction(write=True)

    # --- schema --------------------------------------------------------------------

    def migrate(self, on_create: Callable[[Connection], None] | None = None) -> bool:
        """Create or upgrade the schema; True when the database was empty and got created."""
        with self.write() as conn:
            names = set(inspect(conn).get_table_names())
            if "schema_version" not in names:
                if names:
                    raise SetupError(
                        "the database has tables but no schema_version: "
                        "it is not a webhooks backoffice database"
                    )
                t.metadata.create_all(conn)
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
            # Later versions add their steps here: for v in range(version + 1, SCHEMA_VERSION + 1)
            return False

    def get_meta(self, conn: Connection, name: str) -> str | None:
        row = conn.execute(select(t.meta.c.value).where(t.meta.c.name == name)).first()
        return None if row is None else str(row.value)

    def set_meta(self, conn: Connection, name: str, value: str) -> None:
        conn.execute(delete(t.meta).where(t.meta.c.name == name))
        conn.execute(insert(t.meta).values(name=name, value=value))

    # --- merchants, stores, terminals, credentials ------------------------------------

    def insert_merchant(self, conn: Connection, merchant_id: str, name: str, now: str) -> None:
        conn.execute(insert(t.merchants).values(id=merchant_id, name=name, created_at=now))

    def merchant_exists(self, conn: Connection, merchant_id: str) -> bool:
        query = select(t.merchants.c.id).where(t.merchants.c.id == merchant_id)
        return conn.execute(query).first() is not None

    def insert_store(self, conn: Connection, merchant_id: str, code: str, name: str) -> None:
        conn.execute(insert(t.stores).values(merchant_id=merchant_id, code=code, name=name))

    def insert_terminal(self, conn: Connection, merchant_id: str, terminal_id: str,
                        store_code: str) -> None:
        conn.execute(insert(t.terminals).values(
            merchant_id=merchant_id, id=terminal_id, store_code=store_code))

    def insert_credential(self, conn: Connection, merchant_id: str, client_id: str,
                          terminal_id: str) -> None:
        conn.execute(insert(t.credentials).values(
            client_id=client_id, merchant_id=merchant_id, terminal_id=terminal_id))

    def stores(self, conn: Connection, merchant_id: str) -> list[tuple[str, str]]:
        c = t.stores.c
        rows = conn.execute(select(c.code, c.name).where(c.merchant_id == merchant_id)
                            .order_by(c.code))
        return [(r.code, r.name) for r in rows]

    def terminals(self, conn: Connection, merchant_id: str) -> list[tuple[str, str]]:
        c = t.terminals.c
        rows = conn.execute(select(c.id, c.store_code).where(c.merchant_id == merchant_id)
                            .order_by(c.id))
        return [(r.id, r.store_code) for r in rows]

    def credentials(self, conn: Connection, merchant_id: str) -> list[tuple[str, str]]:
        c = t.credentials.c
        rows = conn.execute(select(c.client_id, c.terminal_id)
                            .where(c.merchant_id == merchant_id).order_by(c.client_id))
        return [(r.client_id, r.terminal_id) for r in rows]

    def store_exists(self, conn: Connection, merchant_id: str, code: str) -> bool:
        c = t.stores.c
        query = select(c.code).where(c.merchant_id == merchant_id, c.code == code)
        return conn.execute(query).first() is not None

    def terminal_store(self, conn: Connection, merchant_id: str, terminal_id: str) -> str | None:
        c = t.terminals.c
        query = select(c.store_code).where(c.merchant_id == merchant_id, c.id == terminal_id)
        row = conn.execute(query).first()
        return None if row is None else str(row.store_code)

    def credential_terminal(self, conn: Connection, merchant_id: str,
                            client_id: str) -> str | None:
        c = t.credentials.c
        query = select(c.terminal_id).where(c.merchant_id == merchant_id, c.client_id == client_id)
        row = conn.execute(query).first()
        return None if row is None else str(row.terminal_id)

    # --- webhooks -----------------------------------------------------------------------

    def list_webhooks(
        self, conn: Connection, merchant_id: str, *, after_pk: int, limit: int,
        covering: tuple[str, str] | None = None, notification: str | None = None,
        type: str | None = None, text: str | None = None,
    ) -> list[WebhookRecord]:
        """One page in creation order; ``covering`` is (terminal id, its store code)."""
        w, wn = t.webhooks.c, t.webhook_notifications.c
        query = _SELECT_RECORDS.where(w.merchant_id == merchant_id, w.pk > after_pk)
        if type is not None:
            query = query.where(w.type == type)
        if text is not None:
            needle = text.lower()
            query = query.where(or_(
                func.lower(w.url).contains(needle, autoescape=True),
                func.lower(w.email).contains(needle, autoescape=True),
            ))
        if notification is not None:
            query = query.where(
                exists().where(wn.webhook_pk == w.pk, wn.notification == notification))
        if covering is not None:
            terminal_id, store_code = covering
            query = query.where(or_(
                w.app_kind == "merchant",
                and_(w.app_kind == "store", w.app_ref == store_code),
                and_(w.app_kind == "terminal", w.app_ref == terminal_id),
            ))
        return [_record(row) for row in conn.execute(query.order_by(w.pk).limit(limit))]

    def get_webhook(self, conn: Connection, merchant_id: str, *, id: str | None = None,
                    name: str | None = None) -> WebhookRecord | None:
        w = t.webhooks.c
        query = _SELECT_RECORDS.where(w.merchant_id == merchant_id)
        query = query.where(w.id == id) if id is not None else query.where(w.name == name)
        row = conn.execute(query).first()
        return None if row is None else _record(row)

    def insert_webhook(self, conn: Connection, values: dict[str, Any],
                       notifications: Sequence[str]) -> int:
        result = conn.execute(insert(t.webhooks).values(**values))
        pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
        assert pk is not None
        self._set_notifications(conn, int(pk), notifications, replace=False)
        return int(pk)

    def update_webhook(self, conn: Connection, pk: int, expected_version: int,
                       values: dict[str, Any], notifications: Sequence[str] | None) -> bool:
        """Compare-and-set on ``version``: False when another writer got there first."""
        w = t.webhooks.c
        result = conn.execute(
            update(t.webhooks).where(w.pk == pk, w.version == expected_version).values(**values))
        if result.rowcount != 1:
            return False
        if notifications is not None:
            self._set_notifications(conn, pk, notifications, replace=True)
        return True

    def delete_webhook(self, conn: Connection, pk: int, expected_version: int) -> bool:
        wn, w = t.webhook_notifications.c, t.webhooks.c
        conn.execute(delete(t.webhook_notifications).where(wn.webhook_pk == pk))
        result = conn.execute(
            delete(t.webhooks).where(w.pk == pk, w.version == expected_version))
        return result.rowcount == 1

    def any_sealed_secret(self, conn: Connection) -> bool:
        query = select(t.webhooks.c.pk).where(t.webhooks.c.secret_sealed.is_not(None)).limit(1)
        return conn.execute(query).first() is not None

    def _set_notifications(self, conn: Connection, pk: int, notifications: Sequence[str],
                           *, replace: bool) -> None:
        if replace:
            conn.execute(delete(t.webhook_notifications)
                         .where(t.webhook_notifications.c.webhook_pk == pk))
        if notifications:
            conn.execute(insert(t.webhook_notifications),
                         [{"webhook_pk": pk, "notification": n} for n in notifications])

    # --- idempotency ------------------------------------------------------------------

    def get_idempotency(self, conn: Connection, merchant_id: str,
                        key: str) -> tuple[str, dict[str, Any]] | None:
        c = t.idempotency.c
        query = select(c.request_hash, c.response).where(c.merchant_id == merchant_id,
                                                         c.key == key)
        row = conn.execute(query).first()
        return None if row is None else (str(row.request_hash), dict(row.response))

    def put_idempotency(self, conn: Connection, merchant_id: str, key: str, request_hash: str,
                        response: dict[str, Any], now: str) -> None:
        conn.execute(insert(t.idempotency).values(
            merchant_id=merchant_id, key=key, request_hash=request_hash, response=response,
            created_at=now))

    def purge_idempotency(self, conn: Connection, before: str) -> int:
        result = conn.execute(delete(t.idempotency).where(t.idempotency.c.created_at < before))
        return int(result.rowcount)

    # --- tokens -----------------------------------------------------------------------

    def insert_token(self, conn: Connection, token_hash: str, merchant_id: str, scope: str,
                     now: str) -> None:
        conn.execute(insert(t.tokens).values(
            hash=token_hash, merchant_id=merchant_id, scope=scope, created_at=now))

    def find_token(self, conn: Connection, token_hash: str) -> tuple[str, str] | None:
        c = t.tokens.c
        row = conn.execute(select(c.merchant_id, c.scope).where(c.hash == token_hash)).first()
        return None if row is None else (str(row.merchant_id), str(row.scope))

    def count_tokens(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(t.tokens)).scalar_one())

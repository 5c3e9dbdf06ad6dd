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
    Column,
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
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool

from backoffice.db import tables as t
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
    url_sealed: bytes | None
    url_fingerprint: str | None
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


DUE_STATUSES = ("pending", "failed")


class DeliveryRow(NamedTuple):
    """One delivery as the log shows it: its webhook's id and its notification's facts."""

    pk: int
    id: str
    webhook_pk: int
    webhook_id: str
    notification_id: str
    notification_type: str
    test: bool
    status: str
    attempts: int
    created_at: str
    last_attempt_at: str | None
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    response_excerpt: str | None


class ClaimedDelivery(NamedTuple):
    """A delivery a worker holds: what it needs to make the attempt."""

    pk: int
    id: str
    attempts: int
    test: bool
    webhook_pk: int
    webhook_id: str
    merchant_id: str
    payload: dict[str, Any]


_d, _w, _n = t.deliveries.c, t.webhooks.c, t.notifications.c
_SELECT_DELIVERIES = (
    select(_d.pk, _d.id, _d.webhook_pk, _w.id, _n.id, _n.type, _d.test, _d.status, _d.attempts,
           _d.created_at, _d.last_attempt_at, _d.next_attempt_at, _d.last_status_code,
           _d.last_error, _d.response_excerpt)
    .select_from(t.deliveries.join(t.webhooks).join(t.notifications))
)
_SELECT_CLAIMED = (
    select(_d.pk, _d.id, _d.attempts, _d.test, _d.webhook_pk, _w.id, _w.merchant_id, _n.payload)
    .select_from(t.deliveries.join(t.webhooks).join(t.notifications))
)


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


def _add_column(conn: Connection, column: Column[Any]) -> None:
    """ALTER TABLE ... ADD COLUMN for a nullable column (skipped when it exists)."""
    table = column.table.name
    if column.name in {c["name"] for c in inspect(conn).get_columns(table)}:
        return
    kind = column.type.compile(dialect=conn.dialect)
    prep = conn.dialect.identifier_preparer
    conn.exec_driver_sql(f"ALTER TABLE {prep.quote(table)} "
                         f"ADD COLUMN {prep.quote(column.name)} {kind}")


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

    def migrate(self, on_create: Callable[[Connection], None] | None = None,
                on_upgrade: Callable[[Connection, int], None] | None = None) -> bool:
        """Create or upgrade the schema; True when the database was empty and got created.

        ``on_upgrade(conn, step)`` runs after each step's DDL, in the same transaction,
        for the data a step has to rewrite.
        """
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
            for step in range(version + 1, t.SCHEMA_VERSION + 1):
                for table in t.MIGRATIONS.get(step, ()):
                    table.create(conn, checkfirst=True)
                for column in t.NEW_COLUMNS.get(step, ()):
                    _add_column(conn, column)
                if on_upgrade is not None:
                    on_upgrade(conn, step)
                conn.execute(insert(t.schema_version).values(version=step))
            return False

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file and empty it (after a migration
        rewrote secrets, so no old page lingers in the WAL)."""
        if self.engine.dialect.name == "sqlite" and sqlite_file(self.engine.url) is not None:
            with self._lock, self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

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
        conn.execute(delete(t.deliveries).where(t.deliveries.c.webhook_pk == pk))
        result = conn.execute(
            delete(t.webhooks).where(w.pk == pk, w.version == expected_version))
        return result.rowcount == 1

    def any_sealed_secret(self, conn: Connection) -> bool:
        w = t.webhooks.c
        query = select(w.pk).where(or_(w.secret_sealed.is_not(None),
                                       w.url_sealed.is_not(None))).limit(1)
        return conn.execute(query).first() is not None

    def urls_with_at(self, conn: Connection) -> list[tuple[int, str, str]]:
        """(pk, id, url) of the webhooks whose URL holds an '@' and is not sealed yet."""
        w = t.webhooks.c
        query = select(w.pk, w.id, w.url).where(w.url.contains("@", autoescape=True),
                                                w.url_sealed.is_(None))
        return [(int(r.pk), str(r.id), str(r.url)) for r in conn.execute(query)]

    def set_url(self, conn: Connection, pk: int, values: dict[str, Any]) -> None:
        """Rewrite a webhook's URL columns in place (a migration; the version stays)."""
        conn.execute(update(t.webhooks).where(t.webhooks.c.pk == pk).values(**values))

    def idempotency_records(self, conn: Connection) -> list[tuple[str, str, dict[str, Any]]]:
        c = t.idempotency.c
        rows = conn.execute(select(c.merchant_id, c.key, c.response))
        return [(str(r.merchant_id), str(r.key), dict(r.response)) for r in rows]

    def set_idempotency_response(self, conn: Connection, merchant_id: str, key: str,
                                 response: dict[str, Any]) -> None:
        c = t.idempotency.c
        conn.execute(update(t.idempotency).where(c.merchant_id == merchant_id, c.key == key)
                     .values(response=response))

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

    # --- notifications and deliveries -------------------------------------------------

    def insert_notification(self, conn: Connection, values: dict[str, Any]) -> int:
        result = conn.execute(insert(t.notifications).values(**values))
        pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
        assert pk is not None
        return int(pk)

    def insert_deliveries(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            conn.execute(insert(t.deliveries), [{"reported_attempts": 0, **row} for row in rows])

    def insert_delivery(self, conn: Connection, row: dict[str, Any]) -> int:
        result = conn.execute(insert(t.deliveries).values(reported_attempts=0, **row))
        pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
        assert pk is not None
        return int(pk)

    def delivery_targets(self, conn: Connection, merchant_id: str, terminal_id: str,
                         store_code: str, notification: str) -> list[tuple[int, str, str]]:
        """(pk, id, name) of the enabled webhooks that cover the terminal and subscribe
        to the notification type, in creation order."""
        w, wn = t.webhooks.c, t.webhook_notifications.c
        query = (
            select(w.pk, w.id, w.name)
            .where(w.merchant_id == merchant_id, w.enabled.is_(True))
            .where(exists().where(wn.webhook_pk == w.pk, wn.notification == notification))
            .where(or_(
                w.app_kind == "merchant",
                and_(w.app_kind == "store", w.app_ref == store_code),
                and_(w.app_kind == "terminal", w.app_ref == terminal_id),
            ))
            .order_by(w.pk)
        )
        return [(int(r.pk), str(r.id), str(r.name)) for r in conn.execute(query)]

    def list_deliveries(self, conn: Connection, webhook_pk: int,
                        limit: int) -> list[DeliveryRow]:
        """A webhook's deliveries, newest first."""
        query = (_SELECT_DELIVERIES.where(t.deliveries.c.webhook_pk == webhook_pk)
                 .order_by(t.deliveries.c.pk.desc()).limit(limit))
        return [DeliveryRow._make(row) for row in conn.execute(query)]

    def get_delivery(self, conn: Connection, delivery_id: str) -> DeliveryRow | None:
        row = conn.execute(_SELECT_DELIVERIES.where(t.deliveries.c.id == delivery_id)).first()
        return None if row is None else DeliveryRow._make(row)

    def claim_due(self, conn: Connection, *, now: str, lease_until: str, claim: str,
                  limit: int) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due deliveries for this worker (``claim``) until
        ``lease_until``. One UPDATE whose WHERE re-checks the due condition, so two
        workers on one database never both take a row (a row another worker just
        claimed no longer matches)."""
        d = t.deliveries.c
        due = and_(
            d.status.in_(DUE_STATUSES), d.next_attempt_at.is_not(None),
            d.next_attempt_at <= now, or_(d.lease_until.is_(None), d.lease_until <= now),
        )
        oldest = select(d.pk).where(due).order_by(d.next_attempt_at, d.pk).limit(limit)
        conn.execute(update(t.deliveries).where(d.pk.in_(oldest.scalar_subquery()), due)
                     .values(lease_until=lease_until, claim=claim))
        return [ClaimedDelivery._make(row)
                for row in conn.execute(_SELECT_CLAIMED.where(d.claim == claim)
                                        .order_by(d.next_attempt_at, d.pk))]

    def finish_delivery(self, conn: Connection, pk: int, claim: str,
                        values: dict[str, Any]) -> bool:
        """Record an attempt, if this worker still holds the claim (False otherwise)."""
        d = t.deliveries.c
        result = conn.execute(update(t.deliveries).where(d.pk == pk, d.claim == claim)
                              .values(lease_until=None, claim=None, **values))
        return result.rowcount == 1

    def unreported_failures(self, conn: Connection,
                            limit: int) -> list[tuple[DeliveryRow, dict[str, Any]]]:
        """Failed or given-up deliveries (not tests) with attempts their webhook's support
        address has not been told about, by webhook; each with the webhook's facts."""
        d, w = t.deliveries.c, t.webhooks.c
        query = (
            _SELECT_DELIVERIES.add_columns(w.support_email, w.name, w.url, w.email)
            .where(d.status.in_(("failed", "gave_up")), d.test.is_(False),
                   d.attempts > d.reported_attempts, w.support_email.is_not(None))
            .order_by(d.webhook_pk, d.pk).limit(limit)
        )
        width = len(DeliveryRow._fields)
        return [(DeliveryRow._make(row[:width]),
                 {"support_email": row[width], "name": row[width + 1], "url": row[width + 2],
                  "email": row[width + 3]})
                for row in conn.execute(query)]

    def merchant_name(self, conn: Connection, merchant_id: str) -> str | None:
        row = conn.execute(select(t.merchants.c.name)
                           .where(t.merchants.c.id == merchant_id)).first()
        return None if row is None else str(row.name)

    def mark_reported(self, conn: Connection, reported: Sequence[tuple[int, int]]) -> None:
        """Remember the attempts a summary covered: (delivery pk, attempts) pairs."""
        d = t.deliveries.c
        for pk, attempts in reported:
            conn.execute(update(t.deliveries).where(d.pk == pk)
                         .values(reported_attempts=attempts))

    def swap_meta(self, conn: Connection, name: str, old: str | None, new: str) -> bool:
        """Compare-and-set a meta value: False when another process changed it first."""
        if old is None:
            if self.get_meta(conn, name) is not None:
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

"""Queries on merchants and what they own: stores, terminals, credentials (API tokens:
``token_queries``)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select, update

from backoffice.db import tables as t


def insert_merchant(conn: Connection, merchant_id: str, name: str, now: str,
                    fingerprint_key_sealed: bytes) -> None:
    conn.execute(insert(t.merchants).values(id=merchant_id, name=name, created_at=now,
                                            fingerprint_key_sealed=fingerprint_key_sealed))


_FINGERPRINT_KEY = select(t.merchants.c.fingerprint_key_sealed).where(
    t.merchants.c.id == bindparam("m"))


def fingerprint_key(conn: Connection, merchant_id: str) -> bytes | None:
    """The merchant's sealed fingerprint key (None: no such merchant, or not made yet)."""
    row = conn.execute(_FINGERPRINT_KEY, {"m": merchant_id}).first()
    return None if row is None or row[0] is None else bytes(row[0])


def fingerprint_keys(conn: Connection) -> list[tuple[str, bytes | None]]:
    """(merchant id, sealed fingerprint key or None) of every merchant."""
    c = t.merchants.c
    rows = conn.execute(select(c.id, c.fingerprint_key_sealed).order_by(c.id))
    return [(str(r.id), None if r.fingerprint_key_sealed is None
             else bytes(r.fingerprint_key_sealed)) for r in rows]


def set_fingerprint_key(conn: Connection, merchant_id: str, sealed: bytes) -> None:
    c = t.merchants.c
    conn.execute(update(t.merchants).where(c.id == merchant_id)
                 .values(fingerprint_key_sealed=sealed))


def lock_merchant(conn: Connection, merchant_id: str) -> None:
    """PostgreSQL: hold the merchant's row (FOR NO KEY UPDATE: rows that only reference it
    still go in) until the transaction ends, so two writes whose checks read the
    merchant's other rows first (a free name, an unused idempotency key) take turns and
    each reads what the other committed. SQLite's ``BEGIN IMMEDIATE`` already does."""
    if conn.dialect.name == "postgresql":
        c = t.merchants.c
        conn.execute(select(c.id).where(c.id == merchant_id).with_for_update(key_share=True))


_MERCHANT_EXISTS = select(t.merchants.c.id).where(t.merchants.c.id == bindparam("m"))


def merchant_exists(conn: Connection, merchant_id: str) -> bool:
    # built once: every write and every list checks the merchant
    return conn.execute(_MERCHANT_EXISTS, {"m": merchant_id}).first() is not None


def merchant_name(conn: Connection, merchant_id: str) -> str | None:
    row = conn.execute(select(t.merchants.c.name)
                       .where(t.merchants.c.id == merchant_id)).first()
    return None if row is None else str(row.name)


def insert_store(conn: Connection, merchant_id: str, code: str, name: str) -> None:
    conn.execute(insert(t.stores).values(merchant_id=merchant_id, code=code, name=name))


def insert_terminal(conn: Connection, merchant_id: str, terminal_id: str,
                    store_code: str) -> None:
    conn.execute(insert(t.terminals).values(
        merchant_id=merchant_id, id=terminal_id, store_code=store_code))


def insert_credential(conn: Connection, merchant_id: str, client_id: str,
                      terminal_id: str) -> None:
    conn.execute(insert(t.credentials).values(
        client_id=client_id, merchant_id=merchant_id, terminal_id=terminal_id))


# Built once: every web page reads the catalogue (its filters and application choices).
_STORES = (select(t.stores.c.code, t.stores.c.name)
           .where(t.stores.c.merchant_id == bindparam("m")).order_by(t.stores.c.code))
_TERMINALS = (select(t.terminals.c.id, t.terminals.c.store_code)
              .where(t.terminals.c.merchant_id == bindparam("m")).order_by(t.terminals.c.id))
_CREDENTIALS = (select(t.credentials.c.client_id, t.credentials.c.terminal_id)
                .where(t.credentials.c.merchant_id == bindparam("m"))
                .order_by(t.credentials.c.client_id))


def stores(conn: Connection, merchant_id: str) -> list[tuple[str, str]]:
    return [(r.code, r.name) for r in conn.execute(_STORES, {"m": merchant_id})]


def terminals(conn: Connection, merchant_id: str) -> list[tuple[str, str]]:
    return [(r.id, r.store_code) for r in conn.execute(_TERMINALS, {"m": merchant_id})]


def credentials(conn: Connection, merchant_id: str) -> list[tuple[str, str]]:
    return [(r.client_id, r.terminal_id)
            for r in conn.execute(_CREDENTIALS, {"m": merchant_id})]


def store_exists(conn: Connection, merchant_id: str, code: str) -> bool:
    c = t.stores.c
    query = select(c.code).where(c.merchant_id == merchant_id, c.code == code)
    return conn.execute(query).first() is not None


def terminal_store(conn: Connection, merchant_id: str, terminal_id: str) -> str | None:
    c = t.terminals.c
    query = select(c.store_code).where(c.merchant_id == merchant_id, c.id == terminal_id)
    row = conn.execute(query).first()
    return None if row is None else str(row.store_code)


def credential_terminal(conn: Connection, merchant_id: str, client_id: str) -> str | None:
    c = t.credentials.c
    query = select(c.terminal_id).where(c.merchant_id == merchant_id, c.client_id == client_id)
    row = conn.execute(query).first()
    return None if row is None else str(row.terminal_id)

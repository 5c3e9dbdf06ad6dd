"""Merchants and what they own: stores, terminals, API credentials; and their catalogue.

Webhooks name these (an application, a credential filter), so the other parts check
them through ``require_merchant`` and the merchant queries, never through this class.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from backoffice import catalog, rules
from backoffice.clock import Clock, iso
from backoffice.db import merchant_queries as q
from backoffice.db.engine import Database
from backoffice.errors import Conflict, Invalid, NotFound
from backoffice.sealing import Sealing
from contract.fingerprints import Fingerprints


def require_merchant(conn: Connection, merchant_id: str) -> None:
    if not q.merchant_exists(conn, merchant_id):
        raise NotFound(f"no merchant {merchant_id!r}")


def check_application(conn: Connection, merchant_id: str, kind: str, ref: str | None) -> None:
    if ref is None:
        return
    if kind == "store" and not q.store_exists(conn, merchant_id, ref):
        known = [code for code, _ in q.stores(conn, merchant_id)]
        raise Invalid(f"application names an unknown store {ref!r}"
                      + _known("stores", known))
    if kind == "terminal" and q.terminal_store(conn, merchant_id, ref) is None:
        known = [tid for tid, _ in q.terminals(conn, merchant_id)]
        raise Invalid(f"application names an unknown terminal {ref!r}"
                      + _known("terminals", known))


def _known(what: str, known: list[str]) -> str:
    if not known:
        return f" (this merchant has no {what})"
    shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    return f"; known {what}: {shown}"


class Merchants:
    """Creates merchants (each with its fingerprint key) and their stores, terminals and
    credentials; reads the catalogue and the fingerprint key."""

    def __init__(self, db: Database, sealing: Sealing, *, clock: Clock) -> None:
        self.db = db
        self.sealing = sealing
        self.clock = clock

    def create_merchant(self, merchant_id: str, name: str) -> None:
        merchant_id = rules.identifier("merchant id", merchant_id, rules.ID_RE)
        name = rules.description(name)
        with self.db.write() as conn:
            if q.merchant_exists(conn, merchant_id):
                raise Conflict(f"merchant {merchant_id!r} already exists")
            with _taken(f"merchant {merchant_id!r} already exists"):
                q.insert_merchant(conn, merchant_id, name, iso(self.clock()),
                                  self.sealing.new_fingerprint_key(merchant_id))

    def fingerprints(self, merchant_id: str) -> Fingerprints:
        """The merchant's fingerprints: its key, for the API to hand to an authenticated
        client that compares, and for nothing else (never a response body, log or file
        but ``GET /v1/fingerprint-key``'s)."""
        with self.db.read() as conn:
            return self.sealing.fingerprints(conn, merchant_id)

    def add_store(self, merchant_id: str, code: str, name: str) -> None:
        code = rules.identifier("store code", code, rules.CODE_RE)
        with self.db.write() as conn:
            require_merchant(conn, merchant_id)
            if q.store_exists(conn, merchant_id, code):
                raise Conflict(f"store {code!r} already exists")
            with _taken(f"store {code!r} already exists"):
                q.insert_store(conn, merchant_id, code, rules.description(name))

    def add_terminal(self, merchant_id: str, terminal_id: str, store_code: str) -> None:
        terminal_id = rules.identifier("terminal id", terminal_id, rules.CODE_RE)
        with self.db.write() as conn:
            require_merchant(conn, merchant_id)
            if not q.store_exists(conn, merchant_id, store_code):
                raise NotFound(f"no store {store_code!r}")
            if q.terminal_store(conn, merchant_id, terminal_id) is not None:
                raise Conflict(f"terminal {terminal_id!r} already exists")
            with _taken(f"terminal {terminal_id!r} already exists"):
                q.insert_terminal(conn, merchant_id, terminal_id, store_code)

    def add_credential(self, merchant_id: str, client_id: str, terminal_id: str) -> None:
        client_id = rules.identifier("client id", client_id, rules.ID_RE)
        with self.db.write() as conn:
            require_merchant(conn, merchant_id)
            if q.terminal_store(conn, merchant_id, terminal_id) is None:
                raise NotFound(f"no terminal {terminal_id!r}")
            try:
                with conn.begin_nested():
                    q.insert_credential(conn, merchant_id, client_id, terminal_id)
            except IntegrityError:
                raise Conflict(f"credential {client_id!r} already exists") from None

    def catalog(self, merchant_id: str) -> dict[str, Any]:
        """Notification types and the merchant's stores, terminals and credentials."""
        with self.db.read() as conn:
            require_merchant(conn, merchant_id)
            return {
                "notification_types": [{"code": code, "label": label}
                                       for code, label in catalog.NOTIFICATION_TYPES.items()],
                "stores": [{"code": c, "name": n}
                           for c, n in q.stores(conn, merchant_id)],
                "terminals": [{"id": i, "store": s}
                              for i, s in q.terminals(conn, merchant_id)],
                "credentials": [{"client_id": c, "terminal": term}
                                for c, term in q.credentials(conn, merchant_id)],
            }


@contextlib.contextmanager
def _taken(message: str) -> Iterator[None]:
    """A key another writer inserted between the check and the insert (PostgreSQL, where
    writers do not take turns): the same Conflict the check gives."""
    try:
        yield
    except IntegrityError:
        raise Conflict(message) from None

"""Opening a backoffice's storage: the data directory, the server key, the migrations with
the data they rewrite, and the demo merchant of a new database.

These run once, before any part serves a call; ``Backoffice.open`` strings them together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from sqlalchemy import Connection

from backoffice import auth, catalog
from backoffice.clock import Clock, iso
from backoffice.crypto import load_server_key
from backoffice.db import merchant_queries as mq
from backoffice.db import token_queries as tq
from backoffice.db import webhook_queries as wq
from backoffice.db.engine import Database
from backoffice.db.meta import get_meta, set_meta
from backoffice.db.migrations import migrate
from backoffice.errors import SetupError
from backoffice.rotation import public_fields
from backoffice.sealing import Sealing
from contract import formats
from contract.fingerprints import url_fingerprint
from contract.secrets import is_weak
from contract.urls import has_credentials as url_has_credentials
from contract.urls import redact_url

ENV_DATA_DIR: Final = "WEBHOOKS_DATA_DIR"
_WRONG_KEY: Final = ("the server key does not match the one this database's "
                     "secrets were sealed with: restore the original server.key "
                     "or WEBHOOKS_SERVER_KEY")


def data_dir(*, url_file: Path | None, data_dir: str | Path | None,
             env: Mapping[str, str]) -> Path | None:
    """``data_dir``, else ``WEBHOOKS_DATA_DIR``, else the SQLite file's directory."""
    if data_dir is None and env.get(ENV_DATA_DIR):
        data_dir = env[ENV_DATA_DIR]
    if data_dir is None and url_file is not None:
        data_dir = url_file.parent
    return None if data_dir is None else Path(data_dir)


def server_key(folder: Path | None, *, backend: str, env: Mapping[str, str]) -> bytes:
    if folder is None and backend == "sqlite" and not env.get("WEBHOOKS_SERVER_KEY"):
        # A memory database dies with the process, and its key may die with it.
        return os.urandom(32)
    return load_server_key(folder, env)


def prepare(db: Database, sealing: Sealing, *, clock: Clock, seed_demo: bool) -> None:
    """Create or upgrade the tables (seeding the demo merchant into a new database when
    asked), then check the server key against the one the database recorded."""
    upgrade = _Upgrade(sealing)
    migrate(db, (lambda conn: _seed_demo(conn, iso(clock()))) if seed_demo else None,
            upgrade)
    _check_key(db, sealing)
    if upgrade.sealed:
        db.checkpoint()  # no page of the clear URLs left in the WAL


def _check_key(db: Database, sealing: Sealing) -> None:
    with db.exclusive() as conn:
        known = get_meta(conn, "server_key_id")
        if known == sealing.key_id:
            return
        if known is not None and wq.any_sealed_secret(conn):
            raise SetupError(_WRONG_KEY)
        set_meta(conn, "server_key_id", sealing.key_id)


class _Upgrade:
    """The data rewrites of schema steps; ``sealed`` says whether clear URLs were
    rewritten (the WAL then gets emptied)."""

    def __init__(self, sealing: Sealing) -> None:
        self.sealing = sealing
        self.sealed = False

    def __call__(self, conn: Connection, step: int) -> None:
        """Version 3 seals the URLs with credentials; version 5 names the tokens; version 7
        marks the stored secrets that are weak (``contract.secrets``), so plans can warn
        about them."""
        if step == 5:
            _identify_tokens(conn)
        if step not in (3, 7):
            return
        known = get_meta(conn, "server_key_id")
        if known is not None and known != self.sealing.key_id:
            raise SetupError(_WRONG_KEY)
        if step == 7:
            self._mark_weak_secrets(conn)
            return
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # The clear URLs are overwritten, not left in the pages' free space.
            was = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        for pk, webhook_id, url in wq.urls_with_at(conn):
            if url_has_credentials(url):
                wq.set_url(conn, pk, self.sealing.url_values(webhook_id, url))
                self.sealed = True
        for merchant_id, key, response in wq.idempotency_records(conn):
            shown = response.get("url")
            if isinstance(shown, str) and url_has_credentials(shown):
                fixed = {**response, "url": redact_url(shown),
                         "url_fingerprint": url_fingerprint(shown)}
                wq.set_idempotency_response(conn, merchant_id, key, fixed)
                self.sealed = True
            elif "url_fingerprint" not in response:
                wq.set_idempotency_response(
                    conn, merchant_id, key, {**response, "url_fingerprint": None})
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA secure_delete = {int(was or 0)}")

    def _mark_weak_secrets(self, conn: Connection) -> None:
        for pk, webhook_id, fmt, sealed in wq.sealed_secrets(conn):
            secret = self.sealing.open_secret(webhook_id, sealed)
            wq.set_secret_weak(conn, pk, is_weak(fmt or formats.DEFAULT, secret))
        # A replayed create answers as the API does now (no rotation: none can have been).
        for merchant_id, key, response in wq.idempotency_records(conn):
            if "secret_weak" not in response:
                wq.set_idempotency_response(conn, merchant_id, key, {
                    **response, **public_fields(response.get("format"), False, None, None,
                                                None, "")})


def _identify_tokens(conn: Connection) -> None:
    """Give every token made before version 5 a public id and the name a token made
    without one gets (its scope and day); they keep working as they did, unexpiring."""
    for token_hash, scope, created_at in tq.tokens_without_id(conn):
        tq.set_identity(conn, token_hash, auth.new_token_id(),
                        auth.default_token_name(scope, created_at))


def _seed_demo(conn: Connection, now: str) -> None:
    m = catalog.DEMO_MERCHANT_ID
    mq.insert_merchant(conn, m, catalog.DEMO_MERCHANT_NAME, now)
    for code, store_name in catalog.DEMO_STORES:
        mq.insert_store(conn, m, code, store_name)
    for terminal_id, code in catalog.DEMO_TERMINALS:
        mq.insert_terminal(conn, m, terminal_id, code)
    for client_id, terminal_id in catalog.DEMO_CREDENTIALS:
        mq.insert_credential(conn, m, client_id, terminal_id)

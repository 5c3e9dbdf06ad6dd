"""Opening a backoffice's storage: the data directory, the server key ring, the migrations
with the data they rewrite (``upgrades``), the key check, and the demo merchant of a new
database.

These run once, before any part serves a call; ``Backoffice.open`` strings them together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from sqlalchemy import Connection

from backoffice import catalog
from backoffice.clock import Clock, iso
from backoffice.crypto import ENV_SERVER_KEY, KeyRing, load_ring
from backoffice.db import merchant_queries as mq
from backoffice.db import webhook_queries as wq
from backoffice.db.engine import Database
from backoffice.db.meta import get_meta, set_meta
from backoffice.db.migrations import migrate
from backoffice.errors import SetupError
from backoffice.sealing import Sealing
from backoffice.upgrades import WRONG_KEY, Upgrade

ENV_DATA_DIR: Final = "WEBHOOKS_DATA_DIR"


def data_dir(*, url_file: Path | None, data_dir: str | Path | None,
             env: Mapping[str, str]) -> Path | None:
    """``data_dir``, else ``WEBHOOKS_DATA_DIR``, else the SQLite file's directory."""
    if data_dir is None and env.get(ENV_DATA_DIR):
        data_dir = env[ENV_DATA_DIR]
    if data_dir is None and url_file is not None:
        data_dir = url_file.parent
    return None if data_dir is None else Path(data_dir)


def key_ring(folder: Path | None, *, backend: str, env: Mapping[str, str]) -> KeyRing:
    if folder is None and backend == "sqlite" and not env.get(ENV_SERVER_KEY):
        # A memory database dies with the process, and its key may die with it.
        return KeyRing([os.urandom(32)])
    return load_ring(folder, env)


def prepare(db: Database, sealing: Sealing, *, clock: Clock, seed_demo: bool) -> None:
    """Create or upgrade the tables (seeding the demo merchant into a new database when
    asked), then check the server key against the one the database recorded."""
    upgrade = Upgrade(sealing)
    migrate(db, (lambda conn: _seed_demo(conn, sealing, iso(clock()))) if seed_demo else None,
            upgrade)
    _check_key(db, sealing)
    if upgrade.sealed:
        db.checkpoint()  # no page of the clear URLs left in the WAL


def _check_key(db: Database, sealing: Sealing) -> None:
    """The database records the id of the key that seals: one this ring has is fine (a
    rotation may be under way). Another key is refused once webhook values are sealed;
    before that it is adopted, and the merchants' fingerprint keys it cannot open (they
    fingerprint nothing stored yet) are made anew."""
    with db.exclusive() as conn:
        known = get_meta(conn, "server_key_id")
        if known is not None and known in sealing.box.ring.ids:
            return
        sealed = wq.any_sealed_secret(conn)
        if known is not None and sealed:
            raise SetupError(WRONG_KEY)
        set_meta(conn, "server_key_id", sealing.key_id)
        for merchant_id, key in mq.fingerprint_keys(conn):
            try:
                if key is None:
                    raise SetupError("no fingerprint key")
                sealing.open_fingerprint_key(merchant_id, key)
            except SetupError:
                if sealed:
                    raise SetupError(WRONG_KEY) from None
                mq.set_fingerprint_key(conn, merchant_id,
                                       sealing.new_fingerprint_key(merchant_id))


def _seed_demo(conn: Connection, sealing: Sealing, now: str) -> None:
    m = catalog.DEMO_MERCHANT_ID
    mq.insert_merchant(conn, m, catalog.DEMO_MERCHANT_NAME, now, sealing.new_fingerprint_key(m))
    for code, store_name in catalog.DEMO_STORES:
        mq.insert_store(conn, m, code, store_name)
    for terminal_id, code in catalog.DEMO_TERMINALS:
        mq.insert_terminal(conn, m, terminal_id, code)
    for client_id, terminal_id in catalog.DEMO_CREDENTIALS:
        mq.insert_credential(conn, m, client_id, terminal_id)

"""Storage and secrets at rest: the server key, sealing, schema versions, a busy database."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from backoffice import Backoffice
from backoffice.crypto import KEY_FILE_NAME, SecretBox, load_server_key
from backoffice.db import engine as store_module
from backoffice.db import tables as schema
from backoffice.errors import NotFound, SetupError, Unavailable
from backoffice.http.api import create_app
from tests.support.backoffice import url_webhook
from tests.support.secrets import SIBS_SECRET

KEY_B64 = base64.b64encode(bytes(range(32))).decode()  # base64 of bytes 0..31


def test_server_key_file_is_created_private_beside_the_database(db_path: Path) -> None:
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        created = office.webhooks.create_webhook("demo", url_webhook(secret=SIBS_SECRET))
    key = db_path.parent / KEY_FILE_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(base64.b64decode(key.read_text())) == 32
    with Backoffice.open(f"sqlite:///{db_path}") as again:  # same key: the secret opens
        assert again.webhooks.webhook_secret("demo", created["id"]) == SIBS_SECRET
    assert sorted(p.name for p in db_path.parent.iterdir()
                  if not p.name.startswith("backoffice.db")) == [KEY_FILE_NAME]


def test_server_key_from_the_environment(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOKS_SERVER_KEY", KEY_B64)
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        assert office.sealing.key_id == SecretBox(bytes(range(32))).key_id
    assert not (db_path.parent / KEY_FILE_NAME).exists()
    monkeypatch.setenv("WEBHOOKS_SERVER_KEY", "too-short")
    with pytest.raises(SetupError, match="WEBHOOKS_SERVER_KEY must hold the standard base64"):
        Backoffice.open(f"sqlite:///{db_path}")


def test_data_dir_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Backoffice.open(f"sqlite:///{tmp_path / 'a.db'}", data_dir=tmp_path / "keys"):
        pass
    assert (tmp_path / "keys" / KEY_FILE_NAME).exists()
    monkeypatch.setenv("WEBHOOKS_DATA_DIR", str(tmp_path / "env-keys"))
    with Backoffice.open(f"sqlite:///{tmp_path / 'b.db'}"):
        pass
    assert (tmp_path / "env-keys" / KEY_FILE_NAME).exists()
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_a_readable_key_file_is_refused(tmp_path: Path) -> None:
    load_server_key(tmp_path, env={})
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    with pytest.raises(SetupError, match=r"readable by others \(mode 644\); run: chmod 600"):
        load_server_key(tmp_path, env={})


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: load_server_key(tmp_path, env={}), range(16)))
    assert len(keys) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE_NAME]


def test_a_different_key_is_refused_once_secrets_exist(db_path: Path) -> None:
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        office.webhooks.create_webhook("demo", url_webhook())
    (db_path.parent / KEY_FILE_NAME).unlink()
    with pytest.raises(SetupError, match="server key does not match"):
        Backoffice.open(f"sqlite:///{db_path}")


def test_a_new_key_is_adopted_while_no_secret_is_sealed(db_path: Path) -> None:
    with Backoffice.open(f"sqlite:///{db_path}", server_key=bytes(32)):
        pass
    with Backoffice.open(f"sqlite:///{db_path}", server_key=bytes(range(32))) as office:
        assert office.webhooks.create_webhook("demo", url_webhook())["version"] == 1


def test_sealed_secrets_are_bound_to_their_webhook(office: Backoffice) -> None:
    a = office.webhooks.create_webhook("demo", url_webhook("a", secret=SIBS_SECRET))
    b = office.webhooks.create_webhook("demo", url_webhook("b"))
    with office.db.write() as conn:
        sealed = conn.execute(select(schema.webhooks.c.secret_sealed)
                              .where(schema.webhooks.c.id == a["id"])).scalar_one()
        assert SIBS_SECRET.encode() not in sealed
        conn.execute(update(schema.webhooks).where(schema.webhooks.c.id == b["id"])
                     .values(secret_sealed=sealed))
    with pytest.raises(SetupError, match="does not open"):
        office.webhooks.webhook_secret("demo", b["id"])


def test_secret_box_round_trip_and_repr() -> None:
    box = SecretBox(bytes(range(32)))
    sealed = box.seal("s3cret", context="wh_1")
    assert box.open(sealed, context="wh_1") == "s3cret"
    assert box.seal("s3cret", context="wh_1") != sealed  # a fresh nonce each time
    assert "s3cret" not in repr(box) and str(bytes(range(32))) not in repr(box)
    with pytest.raises(SetupError, match="unknown encryption version"):
        SecretBox(bytes(range(32))).open(b"\x03" + sealed[1:], context="wh_1")
    with pytest.raises(SetupError, match="does not open"):  # format 1 (no key id), wrong key
        SecretBox(bytes(32)).open(b"\x01" + sealed[9:], context="wh_1")
    # Format 1, from before key rings, still opens with the key that sealed it.
    assert box.open(b"\x01" + sealed[9:], context="wh_1") == "s3cret"
    with pytest.raises(SetupError):
        SecretBox(bytes(16))


def test_a_version_3_database_gains_the_attempt_history(db_path: Path) -> None:
    with Backoffice.open(f"sqlite:///{db_path}"):
        pass
    with sqlite3.connect(db_path) as db:  # what version 3 left: no attempts table
        db.execute("DROP TABLE attempts")
        db.execute("UPDATE schema_version SET version = 3")
    with Backoffice.open(f"sqlite:///{db_path}"):
        pass
    with sqlite3.connect(db_path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        versions = db.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert "attempts" in tables and versions[-1] == (schema.SCHEMA_VERSION,)


def test_schema_is_versioned_and_seeded_once(db_path: Path) -> None:
    with Backoffice.open(f"sqlite:///{db_path}"):
        pass
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        assert len(office.merchants.catalog("demo")["stores"]) == 2
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [
            (schema.SCHEMA_VERSION,)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(SetupError, match="schema is version 99, newer than this backoffice"):
        Backoffice.open(f"sqlite:///{db_path}")


def test_an_empty_database_can_skip_the_demo(db_path: Path) -> None:
    with (Backoffice.open(f"sqlite:///{db_path}", seed_demo=False) as office,
          pytest.raises(NotFound, match="no merchant 'demo'")):
        office.merchants.catalog("demo")


def test_a_foreign_database_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(SetupError, match="not a webhooks backoffice database"):
        Backoffice.open(f"sqlite:///{db_path}")


@pytest.mark.sqlite_only("SQLite's PRAGMAs")
def test_pragmas_on_every_connection(office: Backoffice) -> None:
    with office.db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


@pytest.mark.anyio
async def test_a_locked_database_is_503_with_retry_after(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        token = office.tokens.create_token("demo", "manage")
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(Unavailable, match="database is busy"):
                office.webhooks.create_webhook("demo", url_webhook())
            transport = httpx.ASGITransport(app=create_app(office))
            async with httpx.AsyncClient(transport=transport, base_url="http://bo.test") as client:
                response = await client.post("/v1/webhooks", json=url_webhook(),
                                             headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"] == "application/problem+json"
        finally:
            blocker.rollback()
            blocker.close()
        assert office.webhooks.create_webhook("demo", url_webhook())["version"] == 1


@contextmanager
def write_held(office: Backoffice) -> Iterator[None]:
    """Another thread of this process holds a write transaction while inside."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with office.db.write():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        holder.join(10)


def test_writers_of_one_process_queue_and_one_held_too_long_is_503(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One process's writers take turns on a lock before SQLite's (none meets "busy"
    while another only waits its turn); a writer kept waiting longer than SQLite would
    wait gets the same Unavailable."""
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(lambda i: office.webhooks.create_webhook(
                "demo", url_webhook(name=f"hook-{i}"))["id"], range(40)))
        assert len(set(made)) == 40
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 100)
        with write_held(office), pytest.raises(Unavailable, match="database is busy"):
            office.webhooks.create_webhook("demo", url_webhook(name="late"))
        assert office.webhooks.create_webhook("demo", url_webhook(name="late"))["version"] == 1


def test_a_token_lookup_never_queues_behind_a_writer_to_note_its_use(db_path: Path) -> None:
    """Noting a token's last use is bookkeeping: while another writer of the process holds
    the database, the lookup answers at once and leaves the note for a later one."""
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        token = office.tokens.create_token("demo", "read")
        with write_held(office):
            started = time.monotonic()
            assert office.tokens.authenticate(token).merchant_id == "demo"
            assert time.monotonic() - started < 2  # not the 5 s busy wait
        listed = office.tokens.list_tokens("demo")["data"]
        assert [t["last_used_at"] for t in listed] == [None]  # left for a later lookup


def test_nothing_is_written_outside_the_data_directory(db_path: Path) -> None:
    before = set(os.listdir(Path.cwd()))
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        office.webhooks.create_webhook("demo", url_webhook())
    assert set(os.listdir(Path.cwd())) == before

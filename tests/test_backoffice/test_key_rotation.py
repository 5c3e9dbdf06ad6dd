"""Rotating the server key (``backoffice.key_rotation``): every sealed column is in it, a
serving backoffice (``webhooks serve`` on loopback) decrypts secrets and URLs before,
during and after it, an interrupted rotation is finished by running it again, and the
old key opens nothing afterwards. On SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import LargeBinary, select

from backoffice import Backoffice
from backoffice.crypto import KEY_FILE_NAME, SecretBox, read_key_file
from backoffice.db import tables
from backoffice.errors import SetupError
from backoffice.key_rotation import rotate
from backoffice.sealing import SEALED_COLUMNS
from tests.support.backoffice import url_webhook
from tests.support.env import clean_env
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server

TOKENS = ["tok-rot-5c2d8e9a41", "tok-rot-b7e0f3a912"]
PASSWORD = "Pw-rot-13f9c0d7e2"


class Interrupted(Exception):
    """What the tests raise from a rotation's progress, as a crash or Ctrl-C would stop it."""


def test_every_sealed_column_is_rotated() -> None:
    """The rotation's list is the schema's binary columns, each with a real key and
    context column: a sealed column added without it fails here."""
    binary = {f"{table.name}.{column.name}" for table in tables.metadata.sorted_tables
              for column in table.columns if isinstance(column.type, LargeBinary)}
    assert {c.name for c in SEALED_COLUMNS} == binary
    for column in SEALED_COLUMNS:
        assert column.table.c[column.key].primary_key
        assert column.context_from in column.table.c and column.column.endswith("_sealed")


def sealed_blobs(office: Backoffice) -> list[tuple[str, str, bytes]]:
    """(column, its row's context, sealed bytes) of every sealed value in the database."""
    out = []
    with office.db.read() as conn:
        for column in SEALED_COLUMNS:
            c = column.table.c
            rows = conn.execute(select(c[column.context_from], c[column.column])
                                .where(c[column.column].is_not(None)))
            out += [(column.name, column.context(str(row[0])), bytes(row[1])) for row in rows]
    return out


def the_key(data_dir: Path) -> bytes:
    keys, _ = read_key_file(data_dir / KEY_FILE_NAME)
    assert len(keys) == 1
    return keys[0]


def assert_sealed_with(office: Backoffice, key: bytes, old: bytes) -> int:
    """Every sealed value opens with ``key`` alone, names it, and does not open with
    ``old``; how many there are."""
    new_box, old_box = SecretBox(key), SecretBox(old)
    blobs = sealed_blobs(office)
    for name, context, blob in blobs:
        assert new_box.current(blob), name
        new_box.open(blob, context=context)
        with pytest.raises(SetupError):
            old_box.open(blob, context=context)
    return len(blobs)


# --- a serving backoffice through a rotation ---------------------------------------------


def seed(db_url: str, data_dir: Path, receiver: Receiver, fillers: int) -> tuple[str, bytes]:
    """Two webhooks to the receiver (a token in the query, a password), e-mail and filler
    webhooks; a manage token, and the server key before the rotation."""
    # The receiver is on loopback: a private target, as the server allows too.
    with Backoffice.open(db_url, data_dir=data_dir, allow_private_targets=True) as office:
        hooks = office.webhooks
        hooks.create_webhook("demo", url_webhook(
            "query", url=receiver.url(f"/q?token={TOKENS[0]}"), secret=SIBS_SECRET))
        hooks.create_webhook("demo", url_webhook(
            "basic", url=receiver.url("/b").replace("//", f"//ops:{PASSWORD}@"),
            secret=SIBS_SECRET))
        for i in range(fillers):
            hooks.create_webhook("demo", url_webhook(f"filler-{i}",
                                                     url=f"https://h.example/{i}?k={i}"))
        office.merchants.create_merchant("acme", "Acme Corp")
        return office.tokens.create_token("demo", "manage"), the_key(data_dir)


class Api:
    """The server's API as the test uses it: test-fires that must arrive decrypted."""

    def __init__(self, server: Server, token: str, receiver: Receiver) -> None:
        self.http = httpx.Client(base_url=server.base, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})
        self.receiver = receiver
        self.ids = {w["name"]: w["id"] for w in self.http.get(
            "/v1/webhooks", params={"limit": 1000}).json()["data"]}

    def fire(self, name: str, path: str) -> None:
        before = len(self.receiver.received)
        answer = self.http.post(f"/v1/webhooks/{self.ids[name]}/test", json={})
        assert answer.status_code == 200, answer.text
        assert answer.json()["delivered"] is True, answer.json()["reason"]
        got = self.receiver.received[before]
        assert got.path == path and got.notification is not None  # opened with the secret
        if name == "basic":
            basic = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
            assert got.headers["authorization"] == f"Basic {basic}"

    def fire_both(self, token: str) -> None:
        self.fire("query", f"/q?token={token}")
        self.fire("basic", "/b")


@pytest.fixture
def served(processes: Processes, tmp_path: Path) -> Any:
    def start(db_url: str, data_dir: Path) -> Server:
        return Server(processes, db_url, tmp_path, args=["--allow-private-targets"],
                      env=clean_env(WEBHOOKS_DATA_DIR=str(data_dir)))
    return start


def test_a_serving_backoffice_decrypts_before_during_and_after_a_rotation(
        db_url: str, db_path: Path, served: Any) -> None:
    data_dir = db_path.parent
    receiver = Receiver(reject_unopened=True)
    try:
        token, old = seed(db_url, data_dir, receiver, fillers=12)
        server = served(db_url, data_dir)
        api = Api(server, token, receiver)
        api.fire_both(TOKENS[0])  # before
        steps: list[str] = []
        current = [TOKENS[0]]

        def during(step: str) -> None:
            steps.append(step)
            api.fire_both(current[0])
            if step == "recorded":  # writes while values are re-sealed: sealed with the new key
                changed = api.http.patch(f"/v1/webhooks/{api.ids['query']}",
                                         json={"url": receiver.url(f"/q?token={TOKENS[1]}")})
                assert changed.status_code == 200 and changed.json()["url"].endswith("/q?***")
                current[0] = TOKENS[1]
                made = api.http.post("/v1/webhooks", json=url_webhook(
                    "made-during", url="https://h.example/new?k=v", secret=SIBS_SECRET))
                assert made.status_code == 201

        with Backoffice.open(db_url, data_dir=data_dir) as rotator:
            done = rotate(rotator, grace_s=0.2, batch=5, progress=during)
            new = the_key(data_dir)
            assert new != old and done.key_id == SecretBox(new).key_id
            assert done.retired == (SecretBox(old).key_id,) and not done.resumed
            total = assert_sealed_with(rotator, new, old)
        # 15 webhooks, each with a secret and a URL with credentials; 2 merchants.
        assert total == 15 + 15 + 2 and done.values["webhooks.secret_sealed"] == 15
        assert steps[:2] == ["added", "recorded"] and steps[-1] == "retired"
        assert sum(step.startswith("batch") for step in steps) >= 6  # fired between batches
        api.fire_both(TOKENS[1])  # after: the old key is gone from server.key
        api.http.close()
        assert server.stop() == 0
        again = Api(served(db_url, data_dir), token, receiver)  # started afterwards
        again.fire_both(TOKENS[1])
        again.http.close()
        assert receiver.problems == []
    finally:
        receiver.close()


# --- an interrupted rotation ---------------------------------------------------------------


@pytest.mark.parametrize("stop_at", ["added", "recorded", "batch webhooks.url_sealed",
                                     "retired"])
def test_an_interrupted_rotation_is_finished_by_running_it_again(
        db_url: str, db_path: Path, stop_at: str) -> None:
    data_dir = db_path.parent
    with Backoffice.open(db_url, data_dir=data_dir) as office:
        made = [office.webhooks.create_webhook("demo", url_webhook(
            f"w-{i}", url=f"https://ops:{PASSWORD}-{i}@h.example/{i}?t={i}")) for i in range(9)]
        shown = {w["id"]: office.webhooks.get_webhook("demo", w["id"]) for w in made}
        plain = {w["id"]: office.webhooks.webhook_secret("demo", w["id"]) for w in made}
        old = the_key(data_dir)

        def crash(step: str) -> None:
            if step == stop_at:
                raise Interrupted(step)

        with pytest.raises(Interrupted):
            rotate(office, grace_s=0, batch=4, progress=crash)
    # Mid-rotation, a server opening the database works: the ring holds both keys.
    with Backoffice.open(db_url, data_dir=data_dir) as office:
        for webhook_id, secret in plain.items():
            assert office.webhooks.webhook_secret("demo", webhook_id) == secret
        done = rotate(office, grace_s=0, batch=4)
        assert done.resumed
    new = the_key(data_dir)
    assert new != old
    # The new key alone opens everything; nothing published changed.
    with Backoffice.open(db_url, server_key=new) as office:
        assert assert_sealed_with(office, new, old) == 9 + 9 + 1
        for webhook_id, secret in plain.items():
            assert office.webhooks.webhook_secret("demo", webhook_id) == secret
            assert office.webhooks.get_webhook("demo", webhook_id) == shown[webhook_id]
            record = office.webhooks._get("demo", id=webhook_id)
            assert PASSWORD in str(office.sealing.delivery_url(record))
    # A rotation run again afterwards is a new rotation, as asked.
    with Backoffice.open(db_url, data_dir=data_dir) as office:
        again = rotate(office, grace_s=0)
        assert not again.resumed and again.retired == (SecretBox(new).key_id,)


def test_a_rotation_needs_the_key_file(db_url: str, db_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with Backoffice.open(db_url, data_dir=db_path.parent):
        pass
    key = (db_path.parent / KEY_FILE_NAME).read_text().strip()
    monkeypatch.setenv("WEBHOOKS_SERVER_KEY", key)
    with (Backoffice.open(db_url, data_dir=db_path.parent) as office,
          pytest.raises(SetupError, match="comes from WEBHOOKS_SERVER_KEY")):
        rotate(office, grace_s=0)
    assert (db_path.parent / KEY_FILE_NAME).read_text().strip() == key


def test_a_server_follows_the_key_file(db_path: Path) -> None:
    """The ring re-reads server.key when it changes: a new first key seals; a key that
    left the file still opens what this process read before."""
    from backoffice.crypto import write_key_file

    with Backoffice.open(f"sqlite:///{db_path}") as office:
        box = office.sealing.box
        old = the_key(db_path.parent)
        before = box.seal("v", context="c")
        new = bytes(range(32))
        write_key_file(db_path.parent / KEY_FILE_NAME, [new, old])
        after = box.seal("v", context="c")
        assert box.sealed_with(after) == SecretBox(new).key_id != box.sealed_with(before)
        write_key_file(db_path.parent / KEY_FILE_NAME, [new])
        assert box.open(before, context="c") == box.open(after, context="c") == "v"
        (db_path.parent / KEY_FILE_NAME).write_text("not a key\n")  # a broken file: ignored
        assert box.sealed_with(box.seal("v", context="c")) == SecretBox(new).key_id

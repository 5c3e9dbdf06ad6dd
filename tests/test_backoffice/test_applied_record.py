"""The last-applied record (schema version 9): written by a create or PATCH that carries
``applied``, kept by every other change, returned by GET and the list, never holding a
secret; and the upgrade of a database made at the previous version."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from backoffice import Backoffice
from backoffice.db import tables
from backoffice.db.engine import Database
from backoffice.errors import Invalid
from tests.support.backoffice import Clock, url_webhook
from tests.support.secrets import SIBS_SECRET

DIGEST = "sha256:" + "0f" * 32
APPLIED = {"digest": DIGEST, "revision": "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
           "owner": "payments-team"}
LABELS = {"managed-by": "webhooks-reconciler", "owner": "payments-team"}


def test_a_create_records_the_webhook_as_it_left_it(office: Backoffice, clock: Clock) -> None:
    password_url = "https://shop:Pw-applied-77@hooks.shop.example/orders"
    hook = office.webhooks.create_webhook("demo", url_webhook(
        url=password_url, secret=SIBS_SECRET, labels=LABELS, applied=APPLIED))
    record = hook["applied"]
    assert record["digest"] == DIGEST and record["owner"] == "payments-team"
    assert record["revision"] == APPLIED["revision"] and record["at"] == hook["created_at"]
    state = record["state"]
    assert state["url"] == "https://shop:***@hooks.shop.example/orders"
    assert state["secret_fingerprint"] == hook["secret_fingerprint"]
    assert state["labels"] == LABELS and state["notifications"] == hook["notifications"]
    assert "secret" not in state and "id" not in state and "version" not in state
    text_of_record = json.dumps(record)
    assert SIBS_SECRET not in text_of_record and "Pw-applied-77" not in text_of_record
    # the list and GET agree, and the list's cached bytes hold the same record
    assert office.webhooks.get_webhook("demo", hook["id"])["applied"] == record
    [listed] = office.webhooks.list_webhooks("demo").data
    assert listed["applied"] == record
    [cached] = json.loads(office.webhooks.list_json("demo"))["data"]
    assert cached["applied"] == record
    plain = office.webhooks.create_webhook("demo", url_webhook("plain"))
    assert plain["applied"] is None


def test_a_change_by_hand_keeps_the_record_and_an_apply_renews_it(
        office: Backoffice, clock: Clock) -> None:
    hook = office.webhooks.create_webhook("demo", url_webhook(labels=LABELS, applied=APPLIED))
    first = hook["applied"]
    clock.advance(minutes=5)
    by_hand = office.webhooks.update_webhook("demo", hook["id"],
                                             {"enabled": False, "labels": {}})
    assert by_hand["applied"] == first  # the snapshot still says what the apply left
    assert by_hand["applied"]["state"]["enabled"] is True
    assert by_hand["applied"]["state"]["labels"] == LABELS and by_hand["labels"] == {}
    clock.advance(minutes=5)
    renewed = office.webhooks.update_webhook(
        "demo", hook["id"], {"enabled": True, "labels": LABELS,
                             "applied": {**APPLIED, "revision": None}},
        if_match=by_hand["version"])
    assert renewed["version"] == by_hand["version"] + 1
    assert renewed["applied"]["revision"] is None
    assert renewed["applied"]["at"] == renewed["updated_at"] != first["at"]
    assert renewed["applied"]["state"]["enabled"] is True
    # a PATCH of the record alone is a write too: the version moves, the body with it
    again = office.webhooks.update_webhook("demo", hook["id"], {"applied": APPLIED})
    assert again["version"] == renewed["version"] + 1 and again["applied"]["revision"]


@pytest.mark.parametrize("applied, message", [
    ("yes", "applied must be an object"),
    ({"digest": "sha256:abc", "owner": "a"}, "applied.digest"),
    ({"digest": DIGEST.upper(), "owner": "a"}, "applied.digest"),
    ({"digest": DIGEST, "owner": "a", "revision": "main"}, "applied.revision"),
    ({"digest": DIGEST, "owner": "a", "revision": "abcdef0\n"}, "applied.revision"),
    ({"digest": DIGEST, "owner": "a", "revision": 1234567}, "applied.revision"),
    ({"digest": DIGEST, "owner": "team\u202e"}, "applied.owner"),
    ({"digest": DIGEST, "owner": "x" * 5000}, "applied.owner"),
    ({"digest": DIGEST}, "applied.owner"),
    ({"digest": DIGEST, "owner": "a", "state": {}}, "unknown field 'state'"),
])
def test_a_bad_record_is_refused(office: Backoffice, applied: Any, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        office.webhooks.create_webhook("demo", url_webhook(applied=applied))
    assert office.webhooks.list_webhooks("demo").data == []


@pytest.mark.anyio
async def test_the_api_takes_and_returns_the_record(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/webhooks", json=url_webhook(applied=APPLIED))
    assert created.status_code == 201, created.text
    assert created.json()["applied"]["digest"] == DIGEST
    hook_id = created.json()["id"]
    got = await client.get(f"/v1/webhooks/{hook_id}")
    assert got.json()["applied"] == created.json()["applied"]
    bad = await client.patch(f"/v1/webhooks/{hook_id}",
                             json={"applied": {**APPLIED, "digest": "sha256:\x00"}})
    assert bad.status_code == 422
    listed = await client.get("/v1/webhooks")
    assert listed.json()["data"][0]["applied"] == created.json()["applied"]
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert "applied" in schema["Webhook"]["properties"]
    assert set(schema["AppliedIn"]["properties"]) == {"digest", "revision", "owner"}


def _as_version_4(db_url: str) -> None:
    """Turn a new database back into what version 4 left: no applied_* columns."""
    db = Database.open(db_url)
    try:
        with db.write() as conn:
            for name in ("applied_digest", "applied_revision", "applied_owner", "applied_at",
                         "applied_state"):
                conn.exec_driver_sql(f"ALTER TABLE webhooks DROP COLUMN {name}")
            conn.execute(text("DELETE FROM schema_version"))
            conn.execute(text("INSERT INTO schema_version (version) VALUES (4)"))
    finally:
        db.close()


def test_a_version_4_database_gains_the_record(db_url: str, db_path: Path) -> None:
    with Backoffice.open(db_url, data_dir=db_path.parent) as office:
        hook = office.webhooks.create_webhook("demo", url_webhook())
    _as_version_4(db_url)
    with Backoffice.open(db_url, data_dir=db_path.parent) as office:
        assert office.webhooks.get_webhook("demo", hook["id"])["applied"] is None
        done = office.webhooks.update_webhook("demo", hook["id"], {"applied": APPLIED})
        assert done["applied"]["owner"] == "payments-team"
        with office.db.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("webhooks")}
            versions = [row[0] for row in conn.execute(
                text("SELECT version FROM schema_version ORDER BY version"))]
    assert {"applied_digest", "applied_state"} <= columns
    # steps 5 to 8 add nothing to the record; each is still recorded, up to this version
    assert versions == [4, *range(5, tables.SCHEMA_VERSION + 1)]


@pytest.mark.sqlite_only("reads the SQLite file itself")
def test_the_record_holds_no_secret_on_disk(db_path: Path) -> None:
    with Backoffice.open(f"sqlite:///{db_path}") as office:
        office.webhooks.create_webhook("demo", url_webhook(secret=SIBS_SECRET, applied=APPLIED))
    with sqlite3.connect(db_path) as db:
        [(state,)] = db.execute("SELECT applied_state FROM webhooks").fetchall()
    assert SIBS_SECRET not in state and "secret_fingerprint" in state

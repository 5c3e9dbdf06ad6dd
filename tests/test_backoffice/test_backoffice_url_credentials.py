"""A webhook URL's credentials (``https://user:pass@host/...``, and a query string) are a
secret: sealed at rest, redacted in every response (with a fingerprint in their place),
still used whole by deliveries, and sealed by the migration from a database that held
them in clear."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import httpx
import pytest

from backoffice import Backoffice
from backoffice.db import tables
from backoffice.delivery.settings import DeliverySettings
from backoffice.errors import SetupError
from contract.urls import redact_url
from tests.support.backoffice import loopback_resolver, stored_bytes, url_webhook
from tests.support.legacy import as_version_4
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET

PASSWORD = "Pw-url-9f2c41d7e8"
OTHER_PASSWORD = "Pw-url-0b6a3e55c1"
URL = f"https://ops:{PASSWORD}@hooks.shop.example/basic?x=1"
OTHER_URL = f"https://ops:{OTHER_PASSWORD}@hooks.shop.example/basic?x=1"
REDACTED = "https://ops:***@hooks.shop.example/basic?***"


def url_fingerprint(office: Backoffice, url: str) -> str:
    """The URL's fingerprint under the demo merchant's key."""
    return office.merchants.fingerprints("demo").url(url)


def file_bytes(folder: Path, name: str = "backoffice.db") -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob(f"{name}*")))


# --- the formulas (the contract's) ----------------------------------------------------------


def test_the_redaction_keeps_all_but_the_credentials() -> None:
    assert redact_url(URL) == REDACTED
    assert redact_url("https://tok_abc@h.example/x") == "https://***@h.example/x"
    assert redact_url("https://:pw@h.example/x") == "https://***@h.example/x"
    assert redact_url("https://h.example/a@b") == "https://h.example/a@b"  # '@' in the path


# --- the API -----------------------------------------------------------------------------

@pytest.mark.anyio
async def test_the_api_never_returns_the_password(
        client: httpx.AsyncClient, office: Backoffice, db_path: Path) -> None:
    body = url_webhook("basic", url=URL)
    headers = {"Idempotency-Key": "url-creds-1"}
    created = await client.post("/v1/webhooks", json=body, headers=headers)
    replayed = await client.post("/v1/webhooks", json=body, headers=headers)
    assert created.status_code == 201 and replayed.status_code == 201
    hook = created.json()
    assert replayed.json() == hook
    assert hook["url"] == REDACTED and hook["url_fingerprint"] == url_fingerprint(office, URL)
    path = f"/v1/webhooks/{hook['id']}"
    answers = [created, replayed, await client.get(path), await client.get("/v1/webhooks")]
    same = await client.patch(path, json={"url": URL})
    assert same.json()["version"] == 1  # the same URL again changes nothing
    changed = await client.patch(path, json={"url": OTHER_URL})
    assert changed.json()["version"] == 2
    assert changed.json()["url"] == REDACTED
    assert changed.json()["url_fingerprint"] == url_fingerprint(office, OTHER_URL) != hook[
        "url_fingerprint"]
    # Nor does the filter match on it: the list searches the URL as it is shown.
    by_password = await client.get("/v1/webhooks", params={"webhook": OTHER_PASSWORD})
    by_query = await client.get("/v1/webhooks", params={"webhook": "x=1"})
    assert by_query.json()["data"] == []
    by_user = await client.get("/v1/webhooks", params={"webhook": "OPS:***@hooks"})
    assert by_password.json()["data"] == []
    assert [w["name"] for w in by_user.json()["data"]] == ["basic"]
    answers += [same, changed, by_password, by_user, await client.get(path)]
    for answer in answers:
        assert PASSWORD not in answer.text and OTHER_PASSWORD not in answer.text
    # Without credentials again: no fingerprint, nothing sealed.
    plain = await client.patch(path, json={"url": "https://hooks.shop.example/basic"})
    assert plain.json()["url_fingerprint"] is None
    assert office.sealing.delivery_url(office.webhooks._get("demo", id=hook["id"])) == \
        "https://hooks.shop.example/basic"
    office.close()
    stored = stored_bytes(office, db_path.parent)
    assert b"hooks.shop.example" in stored  # not vacuous: the URLs were written
    assert PASSWORD.encode() not in stored and OTHER_PASSWORD.encode() not in stored


def test_openapi_documents_the_url_fingerprint(office: Backoffice) -> None:
    from backoffice.http.api import create_app

    schema = create_app(office).openapi()["components"]["schemas"]["Webhook"]
    assert "url_fingerprint" in schema["required"]
    assert "HMAC-SHA256" in schema["properties"]["url_fingerprint"]["description"]
    assert "/v1/fingerprint-key" in schema["properties"]["url_fingerprint"]["description"]


# --- deliveries --------------------------------------------------------------------------

def test_deliveries_still_use_the_whole_url(tmp_path: Path, receiver: Receiver) -> None:
    delivery = DeliverySettings(resolver=loopback_resolver, timeout_s=2.0)
    with Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}", delivery=delivery,
                         allow_private_targets=True) as office:
        url = receiver.url().replace("http://", f"http://ops:{PASSWORD}@")
        hook = office.webhooks.create_webhook("demo", url_webhook("basic", url=url,
                                                                  secret=SIBS_SECRET))
        assert hook["url"] == receiver.url().replace("http://", "http://ops:***@")
        shown = office.deliveries.test_webhook("demo", hook["id"])
        office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})
        assert office.deliveries.deliver_due() == 1
        deliveries = office.deliveries.list_deliveries("demo", hook["id"])
    assert shown["delivered"] is True and len(receiver.received) == 2
    basic = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    for got in receiver.received:
        assert got.headers["authorization"] == f"Basic {basic}"
    assert shown["request"]["url"] == hook["url"]
    assert [d["status"] for d in deliveries] == ["delivered", "delivered"]
    assert PASSWORD not in repr(shown) + repr(deliveries)
    assert PASSWORD.encode() not in file_bytes(tmp_path, "bo.db")


# --- the migration from version 2 -------------------------------------------------------

def as_version_2(office: Backoffice, db: Path, webhook_id: str, url: str,
                 response_url: str) -> None:
    """Turn the database back into what version 2 left: the URL in clear everywhere
    (version 4 first: unkeyed fingerprints, no fingerprint keys), and close the office."""
    as_version_4(office)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE attempts")  # version 4's (as_version_4 took 5 to 9 away)
        conn.execute("ALTER TABLE webhooks DROP COLUMN url_sealed")
        conn.execute("ALTER TABLE webhooks DROP COLUMN url_fingerprint")
        conn.execute("UPDATE webhooks SET url = ? WHERE id = ?", (url, webhook_id))
        conn.execute("UPDATE idempotency SET response = json_remove(json_set(response, "
                     "'$.url', ?), '$.url_fingerprint')", (response_url,))
        conn.execute("UPDATE schema_version SET version = 2")
    assert PASSWORD.encode() in file_bytes(db.parent, db.name)


def test_the_migration_seals_urls_stored_in_clear(tmp_path: Path) -> None:
    db = tmp_path / "bo.db"
    office = Backoffice.open(f"sqlite:///{db}")
    hook = office.webhooks.create_webhook("demo", url_webhook("basic"), idempotency_key="k-1")
    plain = office.webhooks.create_webhook("demo", url_webhook("plain", url="https://h.example/a@b"))
    as_version_2(office, db, hook["id"], URL, URL)
    with Backoffice.open(f"sqlite:///{db}") as office:
        got = office.webhooks.get_webhook("demo", hook["id"])
        assert got["url"] == REDACTED and got["url_fingerprint"] == url_fingerprint(office, URL)
        assert got["version"] == hook["version"]
        assert office.sealing.delivery_url(office.webhooks._get("demo", id=hook["id"])) == URL
        assert office.webhooks.get_webhook("demo", plain["id"])["url_fingerprint"] is None
        replay = office.webhooks.create_webhook("demo", url_webhook("basic"), idempotency_key="k-1")
        assert replay["url"] == REDACTED
        assert replay["url_fingerprint"] == url_fingerprint(office, URL)
        # The server still runs, its WAL already holds no clear page.
        assert PASSWORD.encode() not in file_bytes(tmp_path, "bo.db")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (
            tables.SCHEMA_VERSION,)
    assert PASSWORD.encode() not in file_bytes(tmp_path, "bo.db")


def test_the_migration_refuses_another_server_key(tmp_path: Path) -> None:
    db = tmp_path / "bo.db"
    office = Backoffice.open(f"sqlite:///{db}", server_key=bytes(32))
    hook = office.webhooks.create_webhook("demo", url_webhook("basic"))
    as_version_2(office, db, hook["id"], URL, URL)
    with pytest.raises(SetupError, match="server key does not match"):
        Backoffice.open(f"sqlite:///{db}", server_key=bytes(range(32)))
    with sqlite3.connect(db) as conn:  # nothing was sealed with the wrong key
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (2,)
        assert conn.execute("SELECT url FROM webhooks").fetchone() == (URL,)


@pytest.mark.anyio
async def test_a_fragment_is_refused_without_echoing_it(client: httpx.AsyncClient) -> None:
    answer = await client.post("/v1/webhooks", json=url_webhook(
        "frag", url="https://hooks.shop.example/x?t=1#Frag-tok-77"))
    assert answer.status_code == 422
    assert "must not have a fragment" in answer.text and "Frag-tok-77" not in answer.text

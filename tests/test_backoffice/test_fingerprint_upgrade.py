"""The upgrade that keyed the fingerprints (schema step 6), from a database as version 4
left it (``tests/support/legacy.py``), on SQLite and PostgreSQL: every merchant gets a
fingerprint key, query strings stored in clear are sealed, every stored fingerprint is
recomputed under the key, and idempotency records replay with the new fingerprints."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backoffice import Backoffice
from backoffice.db import tables
from backoffice.errors import SetupError
from backoffice.upgrades import legacy_secret_fingerprint
from tests.support.backoffice import stored_bytes, url_webhook
from tests.support.legacy import as_version_4
from tests.support.secrets import SIBS_SECRET

TOKEN = "tok-upg-9e41c2b7d0"
QUERY_URL = f"https://hooks.shop.example/q?token={TOKEN}"
PASSWORD = "Pw-upg-6a0d3f81b5"
USER_URL = f"https://ops:{PASSWORD}@hooks.shop.example/u?x=1"


def raw(db_url: str, sql: str) -> list[tuple[object, ...]]:
    """A query straight on the database, as a version 4 server would see it."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_a_version_4_database_is_upgraded(db_url: str, db_path: Path) -> None:
    data_dir = db_path.parent
    office = Backoffice.open(db_url, data_dir=data_dir)
    office.merchants.create_merchant("acme", "Acme Corp")
    query = office.webhooks.create_webhook("demo", url_webhook(
        "query", url=QUERY_URL, secret=SIBS_SECRET), idempotency_key="k-query")
    user = office.webhooks.create_webhook("demo", url_webhook("user", url=USER_URL),
                                          idempotency_key="k-user")
    plain = office.webhooks.create_webhook("demo", url_webhook("plain"))
    gone = office.webhooks.create_webhook("demo", url_webhook("gone"), idempotency_key="k-gone")
    office.webhooks.delete_webhook("demo", gone["id"])
    generated = office.webhooks.webhook_secret("demo", user["id"])
    assert generated is not None
    as_version_4(office)

    # What version 4 left: the query token in clear, unkeyed fingerprints, no keys.
    assert raw(db_url, f"SELECT url FROM webhooks WHERE id = '{query['id']}'") == [
        (QUERY_URL,)]
    assert raw(db_url, f"SELECT secret_fingerprint FROM webhooks WHERE id = '{query['id']}'"
               ) == [(legacy_secret_fingerprint(SIBS_SECRET),)]
    assert raw(db_url, "SELECT max(version) FROM schema_version") == [(4,)]

    with Backoffice.open(db_url, data_dir=data_dir) as office:
        keys = {m: office.merchants.fingerprints(m) for m in ("demo", "acme")}
        fp = keys["demo"]
        assert fp.reveal_key() != keys["acme"].reveal_key()
        got = office.webhooks.get_webhook("demo", query["id"])
        assert got["url"] == "https://hooks.shop.example/q?***"
        assert got["url_fingerprint"] == fp.url(QUERY_URL)
        assert got["secret_fingerprint"] == fp.secret(SIBS_SECRET)
        assert got["version"] == query["version"]  # an upgrade is no change
        record = office.webhooks._get("demo", id=query["id"])
        assert office.sealing.delivery_url(record) == QUERY_URL
        assert office.webhooks.webhook_secret("demo", query["id"]) == SIBS_SECRET
        got = office.webhooks.get_webhook("demo", user["id"])
        assert got["url"] == "https://ops:***@hooks.shop.example/u?***"
        assert got["url_fingerprint"] == fp.url(USER_URL)
        assert got["secret_fingerprint"] == fp.secret(generated)
        assert office.webhooks.get_webhook("demo", plain["id"])["url_fingerprint"] is None
        # The creates replay with the new fingerprints; the gone webhook's record is dropped.
        replay = office.webhooks.create_webhook(
            "demo", url_webhook("query", url=QUERY_URL, secret=SIBS_SECRET),
            idempotency_key="k-query")
        assert replay["id"] == query["id"] and replay["url_fingerprint"] == fp.url(QUERY_URL)
        assert replay["secret_fingerprint"] == fp.secret(SIBS_SECRET)
        assert replay["url"] == "https://hooks.shop.example/q?***"
        again = office.webhooks.create_webhook("demo", url_webhook("user", url=USER_URL),
                                               idempotency_key="k-user")
        assert again["id"] == user["id"] and again["url_fingerprint"] == fp.url(USER_URL)
        anew = office.webhooks.create_webhook("demo", url_webhook("gone"),
                                              idempotency_key="k-gone")
        assert anew["id"] != gone["id"]
        stored = stored_bytes(office, data_dir)
    assert raw(db_url, "SELECT max(version) FROM schema_version") == [
        (tables.SCHEMA_VERSION,)]
    assert TOKEN.encode() not in stored and PASSWORD.encode() not in stored
    assert b"hooks.shop.example" in stored  # not vacuous: the URLs are there, redacted


def test_the_upgrade_refuses_another_server_key(db_url: str, db_path: Path) -> None:
    office = Backoffice.open(db_url, data_dir=db_path.parent)
    office.webhooks.create_webhook("demo", url_webhook("query", url=QUERY_URL))
    as_version_4(office)
    with pytest.raises(SetupError, match="server key does not match"):
        Backoffice.open(db_url, server_key=bytes(range(32)))
    # Nothing was rewritten with the wrong key: still version 4, the token still in clear.
    assert raw(db_url, "SELECT max(version) FROM schema_version") == [(4,)]
    assert raw(db_url, "SELECT url FROM webhooks") == [(QUERY_URL,)]
    with Backoffice.open(db_url, data_dir=db_path.parent) as office:  # the right key: fine
        assert office.webhooks.list_webhooks("demo").data[0]["url"].endswith("/q?***")

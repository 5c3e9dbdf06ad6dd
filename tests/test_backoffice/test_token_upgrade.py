"""Upgrading a database of schema version 4 (tokens with a hash, a merchant, a scope and a
creation moment; no audit log): its tokens keep working and get ids and names.

The version 4 database is this version's schema with what step 5 added taken away
again, on SQLite and on PostgreSQL, and tokens written as version 4 wrote them.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from backoffice import Backoffice, auth
from backoffice.db import tables as t
from backoffice.db.engine import Database
from backoffice.http.api import create_app

STEP = 5  # the step that gave tokens their ids (the coordinator may renumber it)
ADDED = ("id", "name", "expires_at", "last_used_at", "revoked_at")


def as_version_4(db_url: str, tokens: dict[str, tuple[str, str]]) -> None:
    """Take step 5 away again, then store ``tokens`` (token -> (scope, created_at)) as
    version 4 did: no id, no name."""
    db = Database.open(db_url)
    try:
        with db.write() as conn:
            conn.exec_driver_sql("DROP TABLE audit_log")
            for index in t.NEW_INDEXES[STEP]:
                conn.exec_driver_sql(f"DROP INDEX {index.name}")
            for column in ADDED:
                conn.exec_driver_sql(f"ALTER TABLE tokens DROP COLUMN {column}")
            conn.exec_driver_sql("DELETE FROM schema_version")
            conn.exec_driver_sql(f"INSERT INTO schema_version (version) VALUES ({STEP - 1})")
            for token, (scope, created_at) in tokens.items():
                conn.exec_driver_sql(
                    "INSERT INTO tokens (hash, merchant_id, scope, created_at) "
                    f"VALUES ('{auth.token_hash(token)}', 'demo', '{scope}', '{created_at}')")
        with db.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("tokens")}
            assert columns == {"hash", "merchant_id", "scope", "created_at"}
            assert "audit_log" not in inspect(conn).get_table_names()
    finally:
        db.close()


@pytest.mark.anyio
async def test_a_version_4_database_keeps_its_tokens_working_with_ids_and_names(
        db_url: str, db_path: Path) -> None:
    with Backoffice.open(db_url, data_dir=db_path.parent):
        pass  # a new database, then made version 4
    manage, read = auth.new_token(), auth.new_token()
    as_version_4(db_url, {manage: (auth.MANAGE, "2026-10-01T09:00:00Z"),
                          read: (auth.READ, "2026-10-02T10:30:00Z")})

    with Backoffice.open(db_url, data_dir=db_path.parent) as office:
        with office.db.read() as conn:
            assert conn.execute(select(func.max(t.schema_version.c.version))).scalar_one() \
                == t.SCHEMA_VERSION
        listed = {x["name"]: x for x in office.tokens.list_tokens("demo")["data"]}
        assert set(listed) == {"manage-20261001", "read-20261002"}
        for shown in listed.values():
            assert auth.looks_like_token_id(shown["id"]) and shown["status"] == "active"
            assert shown["expires_at"] is None and shown["revoked_at"] is None
        assert office.tokens.authenticate(manage).token_id == listed["manage-20261001"]["id"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(office)),
                                     base_url="http://backoffice.test") as client:
            answer = await client.get("/v1/audit",
                                      headers={"Authorization": f"Bearer {read}"})
            assert answer.status_code == 200 and answer.json()["data"] == []
            revoked = await client.delete(f"/v1/tokens/{listed['read-20261002']['id']}",
                                          headers={"Authorization": f"Bearer {manage}"})
            assert revoked.status_code == 200
            assert (await client.get("/v1/audit", headers={
                "Authorization": f"Bearer {read}"})).status_code == 401
        # The ids are unique: the index made after the rewrite holds.
        with pytest.raises(IntegrityError), office.db.write() as conn:
            conn.execute(t.tokens.update().where(t.tokens.c.hash == auth.token_hash(read))
                         .values(id=listed["manage-20261001"]["id"]))

    with Backoffice.open(db_url, data_dir=db_path.parent) as again:  # opened again: no change
        assert {x["id"] for x in again.tokens.list_tokens("demo")["data"]} == {
            x["id"] for x in listed.values()}

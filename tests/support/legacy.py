"""Databases as an older version left them, made from a current one: the upgrade tests
start from these (on SQLite and on PostgreSQL alike, through SQLAlchemy)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from backoffice.db import tables as t
from backoffice.facade import Backoffice
from backoffice.sealing import url_context
from backoffice.upgrades import legacy_secret_fingerprint, legacy_url_fingerprint
from contract.urls import redact_url, split_url


def _old_redaction(url: str) -> str:
    """How versions 3 to 5 showed a URL: the user part redacted, the query in clear."""
    parts = split_url(url)
    if parts is None or not parts[1]:
        return url
    base, question, query = url.partition("?")
    return redact_url(base) + (question + query if question else "")


# What the API added to a webhook's answer at version 7 (a secret's rotation, weak secrets).
STEP_7_FIELDS = ("secret_weak", "previous_secret_fingerprint", "previous_secret_valid_until",
                 "delivery_secret")


def _v1(blob: bytes | None) -> bytes | None:
    """A sealed value in the format before key rings (no key id)."""
    return None if blob is None else b"\x01" + blob[9:]


def as_version_4(office: Backoffice) -> None:
    """Turn the office's database into what version 4 left, and close the office: no
    token ids, audit log, rotation columns, web sessions or last-applied record (steps 5,
    7, 8, 9); no
    fingerprint keys; unkeyed fingerprints (SHA-256 of secrets, PBKDF2 of URLs); query
    strings in clear (only a user part was a credential); sealed values without a key
    id; idempotency records as version 4 wrote them."""
    box, w, i = office.sealing.box, t.webhooks.c, t.idempotency.c
    with office.db.write() as conn:
        whole: dict[str, str | None] = {}
        for row in conn.execute(select(w.pk, w.id, w.url, w.url_sealed, w.secret_sealed)).all():
            url = (row.url if row.url_sealed is None
                   else box.open(bytes(row.url_sealed), context=url_context(row.id)))
            whole[row.id] = url
            values: dict[str, Any] = {"secret_sealed": _v1(row.secret_sealed)}
            if row.secret_sealed is not None:
                secret = box.open(bytes(row.secret_sealed), context=row.id)
                values["secret_fingerprint"] = legacy_secret_fingerprint(secret)
            has_user = url is not None and (parts := split_url(url)) is not None and parts[1]
            values.update(url=_old_redaction(url) if url else url,
                          url_sealed=_v1(row.url_sealed) if has_user else None,
                          url_fingerprint=legacy_url_fingerprint(url) if has_user else None)
            conn.execute(update(t.webhooks).where(w.pk == row.pk).values(**values))
        for row in conn.execute(select(i.merchant_id, i.key, i.response)).all():
            response = {k: v for k, v in dict(row.response).items() if k not in STEP_7_FIELDS}
            url = whole.get(str(response.get("id")))
            if url is not None:
                fixed = dict(values_of(conn, str(response["id"])))
                response.update(url=_old_redaction(url), url_fingerprint=fixed["url_fingerprint"],
                                secret_fingerprint=fixed["secret_fingerprint"])
            conn.execute(update(t.idempotency)
                         .where(i.merchant_id == row.merchant_id, i.key == row.key)
                         .values(response=response, request_hash="0" * 64))
        conn.exec_driver_sql("ALTER TABLE merchants DROP COLUMN fingerprint_key_sealed")
        _without_later_steps(conn)
        conn.execute(delete(t.schema_version))
        conn.execute(insert(t.schema_version).values(version=4))
    office.close()


def _without_later_steps(conn: Any) -> None:
    """Take away what steps 5, 7, 8 and 9 added: the tokens' identity columns and the
    audit log, the rotation columns and ``secret_weak``, the web sessions, the
    last-applied record (so the upgrade's step 6 runs, as on a real version 4 database,
    before those columns exist)."""
    for table in (*t.MIGRATIONS[5], *t.MIGRATIONS[8]):
        conn.exec_driver_sql(f"DROP TABLE {table.name}")
    for index in t.NEW_INDEXES[5]:
        conn.exec_driver_sql(f"DROP INDEX {index.name}")
    for step in (5, 7, 9):
        for column in t.NEW_COLUMNS[step]:
            conn.exec_driver_sql(f"ALTER TABLE {column.table.name} DROP COLUMN {column.name}")


def values_of(conn: Any, webhook_id: str) -> dict[str, Any]:
    w = t.webhooks.c
    row = conn.execute(select(w.url_fingerprint, w.secret_fingerprint)
                       .where(w.id == webhook_id)).one()
    return {"url_fingerprint": row.url_fingerprint, "secret_fingerprint": row.secret_fingerprint}

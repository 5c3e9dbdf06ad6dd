"""Queries on webhooks, their notification subscriptions and the idempotency records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from backoffice.db import tables as t


class WebhookRecord(NamedTuple):
    """One stored webhook, secret still sealed (a named tuple: a page builds 1000 fast)."""

    pk: int
    id: str
    merchant_id: str
    name: str
    type: str
    url: str | None
    email: str | None
    app_kind: str
    app_ref: str | None
    support_email: str | None
    format: str | None
    enabled: bool
    description: str
    secret_sealed: bytes | None
    secret_fingerprint: str | None
    url_sealed: bytes | None
    url_fingerprint: str | None
    previous_secret_sealed: bytes | None
    previous_secret_fingerprint: str | None
    previous_secret_until: str | None
    secret_acknowledged: bool | None
    secret_weak: bool | None
    applied_digest: str | None
    applied_revision: str | None
    applied_owner: str | None
    applied_at: str | None
    applied_state: str | None
    labels: dict[str, str]
    version: int
    created_at: str
    updated_at: str
    notifications: tuple[str, ...]

    @property
    def application(self) -> str:
        return self.app_kind if self.app_ref is None else f"{self.app_kind}:{self.app_ref}"


_wn = t.webhook_notifications.c
# Each row carries its notifications as one "a,b" string from a correlated subquery
# (group_concat / string_agg per backend): one query per page, no second round trip.
_NOTIFICATIONS = (
    select(func.aggregate_strings(_wn.notification, ","))
    .where(_wn.webhook_pk == t.webhooks.c.pk)
    .correlate(t.webhooks)
    .scalar_subquery()
)
_RECORD_COLUMNS = [t.webhooks.c[name] for name in WebhookRecord._fields if name != "notifications"]
_SELECT_RECORDS = select(*_RECORD_COLUMNS, _NOTIFICATIONS)
# What a page of the list shows, in this order, notifications last: no sealed values, so
# a page reads and converts less than whole records.
PAGE_COLUMNS: Final = ("pk", "id", "name", "type", "url", "url_fingerprint", "email",
                       "app_kind", "app_ref", "support_email", "format", "enabled",
                       "description", "secret_fingerprint", "labels", "version", "created_at",
                       "updated_at", "secret_weak", "previous_secret_fingerprint",
                       "previous_secret_until", "secret_acknowledged", "applied_digest",
                       "applied_revision", "applied_owner", "applied_at", "applied_state")
_SELECT_PAGE = select(*[t.webhooks.c[name] for name in PAGE_COLUMNS], _NOTIFICATIONS)


def _record(row: Sequence[Any]) -> WebhookRecord:
    values = list(row)  # the record's fields in order, notifications last
    values[-1] = tuple(sorted(values[-1].split(","))) if values[-1] else ()
    return WebhookRecord._make(values)


_SELECT_VERSIONS = select(t.webhooks.c.pk, t.webhooks.c.id, t.webhooks.c.version)


def list_webhooks(
    conn: Connection, merchant_id: str, *, after_pk: int, limit: int,
    covering: tuple[str, str] | None = None, notification: str | None = None,
    type: str | None = None, text: str | None = None,
) -> Sequence[Sequence[Any]]:
    """One page in creation order, as rows of ``PAGE_COLUMNS`` then the notifications
    ("a,b" or None); ``covering`` is (terminal id, its store code)."""
    query = _page(_SELECT_PAGE, merchant_id, after_pk, covering, notification, type, text)
    return conn.execute(query.limit(limit)).all()


def list_versions(
    conn: Connection, merchant_id: str, *, after_pk: int, limit: int,
    covering: tuple[str, str] | None = None, notification: str | None = None,
    type: str | None = None, text: str | None = None,
) -> list[tuple[Any, ...]]:
    """The same page as ``list_webhooks``, as (pk, id, version) tuples only.

    Plain tuples from the driver's cursor (three ints and strings, which neither database
    needs converted): a page of 1,000 is compared with the last one as fast as tuples
    compare, where SQLAlchemy's rows compare one by one in Python."""
    query = _page(_SELECT_VERSIONS, merchant_id, after_pk, covering, notification, type, text)
    result = conn.execute(query.limit(limit))
    try:
        return [tuple(row) for row in result.cursor.fetchall()]
    finally:
        result.close()


def page_rows(conn: Connection, merchant_id: str,
              pks: Sequence[int]) -> Sequence[Sequence[Any]]:
    """The rows of ``list_webhooks`` for these webhooks of the merchant (those that still
    exist)."""
    w = t.webhooks.c
    return conn.execute(_SELECT_PAGE.where(w.merchant_id == merchant_id, w.pk.in_(pks))).all()


def _page(query: Select[Any], merchant_id: str, after_pk: int,
          covering: tuple[str, str] | None, notification: str | None, type: str | None,
          text: str | None) -> Select[Any]:
    w, wn = t.webhooks.c, t.webhook_notifications.c
    query = query.where(w.merchant_id == merchant_id, w.pk > after_pk)
    if type is not None:
        query = query.where(w.type == type)
    if text is not None:
        needle = text.lower()
        query = query.where(or_(
            func.lower(w.url).contains(needle, autoescape=True),
            func.lower(w.email).contains(needle, autoescape=True),
        ))
    if notification is not None:
        query = query.where(
            exists().where(wn.webhook_pk == w.pk, wn.notification == notification))
    if covering is not None:
        terminal_id, store_code = covering
        query = query.where(or_(
            w.app_kind == "merchant",
            and_(w.app_kind == "store", w.app_ref == store_code),
            and_(w.app_kind == "terminal", w.app_ref == terminal_id),
        ))
    return query.order_by(w.pk)


# The create path's statements are built once, with bound parameters: building one per
# call (coercing every value, computing its cache key) cost more than running it.
_w = t.webhooks.c
_BY_ID = _SELECT_RECORDS.where(_w.merchant_id == bindparam("m"), _w.id == bindparam("v"))
_BY_NAME = _SELECT_RECORDS.where(_w.merchant_id == bindparam("m"), _w.name == bindparam("v"))
_INSERT_WEBHOOK = insert(t.webhooks)
_INSERT_NOTIFICATIONS = insert(t.webhook_notifications)


def get_webhook(conn: Connection, merchant_id: str, *, id: str | None = None,
                name: str | None = None) -> WebhookRecord | None:
    query = _BY_ID if id is not None else _BY_NAME
    row = conn.execute(query, {"m": merchant_id, "v": id if id is not None else name}).first()
    return None if row is None else _record(row)


_ID_BY_NAME = select(_w.id).where(_w.merchant_id == bindparam("m"), _w.name == bindparam("v"))


def id_of_name(conn: Connection, merchant_id: str, name: str) -> str | None:
    """The id of the merchant's webhook of that name, if there is one (one index read)."""
    found = conn.execute(_ID_BY_NAME, {"m": merchant_id, "v": name}).scalar()
    return None if found is None else str(found)


def lock_webhook(conn: Connection, merchant_id: str, webhook_id: str) -> None:
    """PostgreSQL: hold the webhook's row until the transaction ends, so two
    read-modify-writes of it take turns (on SQLite, ``BEGIN IMMEDIATE`` already does)."""
    if conn.dialect.name == "postgresql":
        w = t.webhooks.c
        conn.execute(select(w.pk).where(w.merchant_id == merchant_id, w.id == webhook_id)
                     .with_for_update())


def insert_webhook(conn: Connection, values: dict[str, Any],
                   notifications: Sequence[str]) -> int:
    result = conn.execute(_INSERT_WEBHOOK, values)
    pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
    assert pk is not None
    _set_notifications(conn, int(pk), notifications, replace=False)
    return int(pk)


def update_webhook(conn: Connection, pk: int, expected_version: int,
                   values: dict[str, Any], notifications: Sequence[str] | None) -> bool:
    """Compare-and-set on ``version``: False when another writer got there first."""
    w = t.webhooks.c
    result = conn.execute(
        update(t.webhooks).where(w.pk == pk, w.version == expected_version).values(**values))
    if result.rowcount != 1:
        return False
    if notifications is not None:
        _set_notifications(conn, pk, notifications, replace=True)
    return True


def delete_webhook(conn: Connection, pk: int, expected_version: int) -> bool:
    wn, w = t.webhook_notifications.c, t.webhooks.c
    conn.execute(delete(t.webhook_notifications).where(wn.webhook_pk == pk))
    conn.execute(delete(t.deliveries).where(t.deliveries.c.webhook_pk == pk))
    result = conn.execute(
        delete(t.webhooks).where(w.pk == pk, w.version == expected_version))
    return result.rowcount == 1


def _set_notifications(conn: Connection, pk: int, notifications: Sequence[str],
                       *, replace: bool) -> None:
    if replace:
        conn.execute(delete(t.webhook_notifications)
                     .where(t.webhook_notifications.c.webhook_pk == pk))
    if notifications:
        conn.execute(_INSERT_NOTIFICATIONS,
                     [{"webhook_pk": pk, "notification": n} for n in notifications])


# --- sealed columns (the server key check and the version 6 upgrade) --------------------


def any_sealed_secret(conn: Connection) -> bool:
    w = t.webhooks.c
    query = select(w.pk).where(or_(w.secret_sealed.is_not(None),
                                   w.url_sealed.is_not(None))).limit(1)
    return conn.execute(query).first() is not None


# The columns of a webhook at version 6 (no rotation columns of step 7, no last-applied
# record of step 9): what the step 6 rewrite may read, since the later steps' columns are
# not there yet.
_LATER_COLUMNS = {c.name for step, added in t.NEW_COLUMNS.items() if step > 6
                  for c in added if c.table is t.webhooks}
_UPGRADE_COLUMNS = [c for c in _RECORD_COLUMNS if c.name not in _LATER_COLUMNS]


def webhook_for_upgrade(conn: Connection, merchant_id: str,
                        webhook_id: str) -> WebhookRecord | None:
    """``get_webhook`` by id for the data rewrite of upgrade step 6: reads no column made
    by a later step (step 7's rotation columns, step 9's ``applied_*``) and leaves them
    None."""
    query = select(*_UPGRADE_COLUMNS, _NOTIFICATIONS).where(
        _w.merchant_id == merchant_id, _w.id == webhook_id)
    row = conn.execute(query).first()
    if row is None:
        return None
    read = dict(zip([c.name for c in _UPGRADE_COLUMNS], row, strict=False))
    return _record([read.get(name) for name in WebhookRecord._fields[:-1]] + [row[-1]])


def url_webhooks(conn: Connection, after_pk: int,
                 limit: int) -> list[tuple[int, str, str, str | None, bytes | None, bytes | None]]:
    """(pk, id, merchant id, url, url_sealed, secret_sealed) of the next URL webhooks
    after ``after_pk``, in pk order."""
    w = t.webhooks.c
    query = (select(w.pk, w.id, w.merchant_id, w.url, w.url_sealed, w.secret_sealed)
             .where(w.type == "url", w.pk > after_pk).order_by(w.pk).limit(limit))
    return [(int(r.pk), str(r.id), str(r.merchant_id), r.url,
             None if r.url_sealed is None else bytes(r.url_sealed),
             None if r.secret_sealed is None else bytes(r.secret_sealed))
            for r in conn.execute(query)]


def set_columns(conn: Connection, pk: int, values: dict[str, Any]) -> None:
    """Rewrite some of a webhook's columns in place (an upgrade; the version stays)."""
    conn.execute(update(t.webhooks).where(t.webhooks.c.pk == pk).values(**values))


# --- a secret's rotation (version 7) ------------------------------------------------------


def sealed_secrets(conn: Connection) -> list[tuple[int, str, str | None, bytes]]:
    """(pk, id, format, sealed secret) of every webhook that has a secret."""
    w = t.webhooks.c
    query = select(w.pk, w.id, w.format, w.secret_sealed).where(w.secret_sealed.is_not(None))
    return [(int(r.pk), str(r.id), r.format, bytes(r.secret_sealed)) for r in conn.execute(query)]


def set_secret_weak(conn: Connection, pk: int, weak: bool) -> None:
    """Record whether a stored secret is weak (a migration; the version stays)."""
    conn.execute(update(t.webhooks).where(t.webhooks.c.pk == pk).values(secret_weak=weak))


def acknowledge_secret(conn: Connection, pk: int, fingerprint: str, now: str) -> bool:
    """Record that a test-fire with the current secret (``fingerprint``) was acknowledged
    during its rotation's grace: a new version, so every worker reads the webhook again.
    False when the secret changed meanwhile, the grace is over or it was recorded already."""
    w = t.webhooks.c
    result = conn.execute(
        update(t.webhooks)
        .where(w.pk == pk, w.secret_fingerprint == fingerprint,
               w.previous_secret_until > now, w.secret_acknowledged.is_not(True))
        .values(secret_acknowledged=True, version=w.version + 1, updated_at=now))
    return result.rowcount == 1


def forget_expired_secrets(conn: Connection, now: str) -> int:
    """Drop the previous secrets whose grace ended by ``now`` (nothing uses them any more;
    the API stopped showing them when it ended); how many."""
    w = t.webhooks.c
    result = conn.execute(
        update(t.webhooks).where(w.previous_secret_until <= now)
        .values(previous_secret_sealed=None, previous_secret_fingerprint=None,
                previous_secret_until=None, secret_acknowledged=None))
    return int(result.rowcount)


# --- idempotency ----------------------------------------------------------------------


_i = t.idempotency.c
_GET_IDEMPOTENCY = select(_i.request_hash, _i.response, _i.created_at).where(
    _i.merchant_id == bindparam("m"), _i.key == bindparam("k"))
_PUT_IDEMPOTENCY = insert(t.idempotency)
_PURGE_IDEMPOTENCY = delete(t.idempotency).where(_i.created_at < bindparam("before"))


def get_idempotency(conn: Connection, merchant_id: str,
                    key: str) -> tuple[str, dict[str, Any], str] | None:
    """(request hash, the answer given, when it was stored) of a key, if kept."""
    row = conn.execute(_GET_IDEMPOTENCY, {"m": merchant_id, "k": key}).first()
    return None if row is None else (str(row.request_hash), dict(row.response),
                                     str(row.created_at))


def put_idempotency(conn: Connection, merchant_id: str, key: str, request_hash: str,
                    response: dict[str, Any], now: str) -> None:
    conn.execute(_PUT_IDEMPOTENCY, {
        "merchant_id": merchant_id, "key": key, "request_hash": request_hash,
        "response": response, "created_at": now})


def purge_idempotency(conn: Connection, before: str) -> int:
    result = conn.execute(_PURGE_IDEMPOTENCY, {"before": before})
    return int(result.rowcount)


def idempotency_records(conn: Connection) -> list[tuple[str, str, dict[str, Any]]]:
    c = t.idempotency.c
    rows = conn.execute(select(c.merchant_id, c.key, c.response))
    return [(str(r.merchant_id), str(r.key), dict(r.response)) for r in rows]


def set_idempotency_response(conn: Connection, merchant_id: str, key: str,
                             response: dict[str, Any], request_hash: str | None = None) -> None:
    """Rewrite a stored answer (an upgrade); its request hash too when given."""
    c = t.idempotency.c
    values: dict[str, Any] = {"response": response}
    if request_hash is not None:
        values["request_hash"] = request_hash
    conn.execute(update(t.idempotency).where(c.merchant_id == merchant_id, c.key == key)
                 .values(**values))


def delete_idempotency(conn: Connection, merchant_id: str, key: str) -> None:
    c = t.idempotency.c
    conn.execute(delete(t.idempotency).where(c.merchant_id == merchant_id, c.key == key))

"""Queries on the audit log: one row per write (or refused attempt), newest first; and
the count behind the rate limits (a merchant's recent emits and test-fires)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from backoffice.db import tables as t

_a = t.audit_log.c


@dataclass(frozen=True)
class AuditRow:
    pk: int
    at: str
    actor_token_id: str | None
    actor: str
    action: str
    target_id: str | None
    target_name: str | None
    fields: list[str]
    outcome: str
    status: int
    note: str | None


_SELECT = select(_a.pk, _a.at, _a.actor_token_id, _a.actor, _a.action, _a.target_id,
                 _a.target_name, _a.fields, _a.outcome, _a.status, _a.note)


_INSERT = insert(t.audit_log)  # built once; the values are bound at execution


def insert_entry(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(_INSERT, values)


def search(conn: Connection, merchant_id: str, *, since: str | None, before_pk: int | None,
           limit: int) -> list[AuditRow]:
    """The merchant's entries since ``since`` (a moment), newest first, before a pk."""
    query = _SELECT.where(_a.merchant_id == merchant_id)
    if since is not None:
        query = query.where(_a.at >= since)
    if before_pk is not None:
        query = query.where(_a.pk < before_pk)
    rows = conn.execute(query.order_by(_a.pk.desc()).limit(limit))
    return [AuditRow(pk=r.pk, at=r.at, actor_token_id=r.actor_token_id, actor=r.actor,
                     action=r.action, target_id=r.target_id, target_name=r.target_name,
                     fields=list(r.fields or []), outcome=r.outcome, status=r.status,
                     note=r.note) for r in rows]


def nth_latest_ok(conn: Connection, merchant_id: str, action: str, n: int) -> str | None:
    """When the merchant's ``n``-th most recent successful ``action`` happened (None when
    there were fewer): the rate limits' look-up, on the (merchant, action, outcome, at)
    index."""
    query = (select(_a.at).where(_a.merchant_id == merchant_id, _a.action == action,
                                 _a.outcome == "ok")
             .order_by(_a.at.desc()).offset(n - 1).limit(1))
    found = conn.execute(query).scalar()
    return None if found is None else str(found)

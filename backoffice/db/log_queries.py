"""Queries of the delivery log across a merchant's webhooks: search, one delivery, and
rescheduling (resend, recover). The claim and attempt queries live in
``delivery_queries``; these never take or change a worker's claim, and leave alone a
row whose lease is still held.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, update

from backoffice.db import tables as t
from backoffice.db.delivery_queries import SELECT_DELIVERIES, DeliveryRow

_d, _w, _n = t.deliveries.c, t.webhooks.c, t.notifications.c
_SELECT = SELECT_DELIVERIES  # the rows DeliveryRow reads
RECOVERABLE = ("failed", "gave_up")


def search(conn: Connection, merchant_id: str, *, webhook_pk: int | None = None,
           status: str | None = None, since: str | None = None,
           notification_id: str | None = None, before_pk: int | None = None,
           limit: int) -> list[DeliveryRow]:
    """The merchant's deliveries matching every filter given, newest first (by pk);
    ``before_pk`` continues a previous page."""
    query = _SELECT.where(_w.merchant_id == merchant_id)
    if webhook_pk is not None:
        query = query.where(_d.webhook_pk == webhook_pk)
    if status is not None:
        query = query.where(_d.status == status)
    if since is not None:
        query = query.where(_d.created_at >= since)
    if notification_id is not None:
        query = query.where(_n.id == notification_id)
    if before_pk is not None:
        query = query.where(_d.pk < before_pk)
    query = query.order_by(_d.pk.desc()).limit(limit)
    return [DeliveryRow._make(row) for row in conn.execute(query)]


def find(conn: Connection, merchant_id: str, delivery_id: str) -> DeliveryRow | None:
    """One of the merchant's deliveries by id."""
    row = conn.execute(_SELECT.where(_w.merchant_id == merchant_id,
                                     _d.id == delivery_id)).first()
    return None if row is None else DeliveryRow._make(row)


def _lease_free(now: str) -> ColumnElement[bool]:
    return or_(_d.lease_until.is_(None), _d.lease_until <= now)


def _due_now(now: str) -> dict[str, Any]:
    # An expired claim goes too: a worker that outlived its lease records nothing.
    return {"status": "pending", "next_attempt_at": now, "lease_until": None, "claim": None}


def reschedule(conn: Connection, pk: int, *, now: str) -> bool:
    """Make one delivery due now (pending), unless a worker holds it; True if it did."""
    result = conn.execute(update(t.deliveries).where(_d.pk == pk, _lease_free(now))
                          .values(**_due_now(now)))
    return result.rowcount == 1


def reschedule_failures(conn: Connection, webhook_pk: int, *, since: str, now: str) -> int:
    """Make every failed or given-up delivery of the webhook (not a test) created since
    ``since`` due now, but those a worker holds; returns how many."""
    condition = and_(_d.webhook_pk == webhook_pk, _d.status.in_(RECOVERABLE),
                     _d.test.is_(False), _d.created_at >= since, _lease_free(now))
    result = conn.execute(update(t.deliveries).where(condition).values(**_due_now(now)))
    return int(result.rowcount)

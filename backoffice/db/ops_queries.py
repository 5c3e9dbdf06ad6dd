"""Aggregate numbers for readiness and metrics: the delivery queue and the webhooks.

Across every merchant, and only totals: nothing here names a merchant or a webhook.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, func, select

from backoffice.db import tables as t
from backoffice.db.delivery_queries import DUE_STATUSES


class Queue(NamedTuple):
    """Deliveries due now (being attempted or waiting), and the earliest due time."""

    due: int
    oldest_due_at: str | None


def queue(conn: Connection, now: str) -> Queue:
    d = t.deliveries.c
    row = conn.execute(
        select(func.count(), func.min(d.next_attempt_at))
        .where(d.status.in_(DUE_STATUSES), d.next_attempt_at.is_not(None),
               d.next_attempt_at <= now)).one()
    return Queue(int(row[0]), None if row[1] is None else str(row[1]))


def webhook_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.webhooks)).scalar_one())

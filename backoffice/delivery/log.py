"""The delivery log as operators use it: every delivery of a merchant with its attempts,
filtered and in pages; and putting deliveries back in the queue (resend, recover).

Resending does not attempt anything: it makes the delivery pending and due now, keeping
its attempts, and whoever delivers (the server's worker, or the embedded backoffice's
rounds) attempts it next. A delivery a worker holds right now (its lease has not run
out) is left alone: a resend of it is refused (409), a recover skips it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from backoffice import audit, auth, cursors
from backoffice.clock import Clock
from backoffice.db import delivery_queries as dq
from backoffice.db import log_queries as lq
from backoffice.db.delivery_queries import DeliveryRow
from backoffice.db.engine import Database
from backoffice.db.webhook_queries import get_webhook
from backoffice.delivery.engine import delivery_dict
from backoffice.errors import Conflict, Invalid, NotFound
from contract import times

STATUSES: Final = ("pending", "delivered", "failed", "gave_up")
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 1000


def attempt_dict(row: dq.AttemptRow) -> dict[str, Any]:
    """One attempt as the API returns it: nothing cut off beyond what was stored."""
    return {"number": row.number, "started_at": row.started_at,
            "duration_ms": row.duration_ms, "outcome": row.outcome,
            "status_code": row.status_code, "error": row.error,
            "response_excerpt": row.response_excerpt}


class DeliveryLog:
    """list_deliveries, get_delivery, resend, recover; over the merchant's deliveries."""

    def __init__(self, db: Database, *, clock: Clock,
                 wake: Callable[[], None] | None = None) -> None:
        self.db = db
        self.clock = clock
        self._wake = wake  # tells a waiting worker there is work now

    def since_moment(self, since: str) -> str:
        """A ``since`` (``2h``, an ISO-8601 moment) as a delivery moment."""
        try:
            return times.iso_millis(times.parse_moment(since, now=self.clock()))
        except (ValueError, OverflowError) as exc:
            raise Invalid(f"since: {exc}") from None

    def _with_attempts(self, conn: Any, rows: list[DeliveryRow]) -> list[dict[str, Any]]:
        found = dq.attempts_of(conn, [row.pk for row in rows])
        return [{**delivery_dict(row), "history": [attempt_dict(a) for a in found[row.pk]]}
                for row in rows]

    def list_deliveries(self, merchant_id: str, *, webhook: str | None = None,
                        status: str | None = None, since: str | None = None,
                        notification: str | None = None, limit: int = DEFAULT_LIMIT,
                        cursor: str | None = None) -> dict[str, Any]:
        """A page of deliveries, newest first, each with its attempts (``history``):
        ``{"data": [...], "next_cursor": ...}``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
        if status is not None and status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}")
        before = (cursors.decode("d1", cursor, start="the newest delivery")
                  if cursor is not None else None)
        after = self.since_moment(since) if since is not None else None
        with self.db.read() as conn:
            webhook_pk = None
            if webhook is not None:
                record = get_webhook(conn, merchant_id, id=webhook)
                if record is None:
                    raise NotFound(f"no webhook with id {webhook[:64]!r}")
                webhook_pk = record.pk
            rows = lq.search(conn, merchant_id, webhook_pk=webhook_pk, status=status,
                             since=after, notification_id=notification, before_pk=before,
                             limit=limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            data = self._with_attempts(conn, rows)
        return {"data": data, "next_cursor": cursors.encode("d1", rows[-1].pk) if more else None}

    def get_delivery(self, merchant_id: str, delivery_id: str) -> dict[str, Any]:
        """One delivery with its attempts."""
        with self.db.read() as conn:
            row = lq.find(conn, merchant_id, delivery_id)
            if row is None:
                raise NotFound(f"no delivery with id {delivery_id[:64]!r}")
            return self._with_attempts(conn, [row])[0]

    def resend(self, merchant_id: str, delivery_id: str, *,
               actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """Make the delivery pending and due now, whatever its status; its attempts stay."""
        started = self.clock()
        now = times.iso_millis(started)
        with self.db.write() as conn:
            row = lq.find(conn, merchant_id, delivery_id)
            if row is None:
                raise NotFound(f"no delivery with id {delivery_id[:64]!r}")
            if not lq.reschedule(conn, row.pk, now=now):
                raise Conflict(f"delivery {delivery_id} is being attempted right now; "
                               "see its outcome with GET /v1/deliveries/"
                               f"{delivery_id}, then resend it if it failed")
            found = self._with_attempts(conn, [lq.find(conn, merchant_id, delivery_id)
                                               or row])[0]
            audit.record(conn, actor, merchant_id, audit.DELIVERY_RESEND, at=started,
                         status=202, target_id=delivery_id,
                         fields=["status", "next_attempt_at"],
                         note=f"webhook {row.webhook_id}, {row.notification_type}")
        if self._wake is not None:
            self._wake()
        return found

    def recover(self, merchant_id: str, webhook_id: str, since: str, *,
                actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """Resend every failed or given-up delivery (not a test) of the webhook created
        since ``since``; deliveries being attempted right now are left to finish."""
        after = self.since_moment(since)
        started = self.clock()
        now = times.iso_millis(started)
        with self.db.write() as conn:
            record = get_webhook(conn, merchant_id, id=webhook_id)
            if record is None:
                raise NotFound(f"no webhook with id {webhook_id[:64]!r}")
            count = lq.reschedule_failures(conn, record.pk, since=after, now=now)
            audit.record(conn, actor, merchant_id, audit.WEBHOOK_RECOVER, at=started,
                         status=202, target_id=webhook_id, target_name=record.name,
                         fields=["since"],
                         note=f"{count} {'delivery' if count == 1 else 'deliveries'} since {after}")
        if count and self._wake is not None:
            self._wake()
        return {"webhook_id": webhook_id, "since": after, "recovered": count}

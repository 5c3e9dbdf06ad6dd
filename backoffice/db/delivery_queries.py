"""Queries on notifications and their deliveries: fan-out, claims, attempts, summaries."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from backoffice.db import tables as t

DUE_STATUSES = ("pending", "failed")


class DeliveryRow(NamedTuple):
    """One delivery as the log shows it: its webhook's id and its notification's facts."""

    pk: int
    id: str
    webhook_pk: int
    webhook_id: str
    notification_id: str
    notification_type: str
    test: bool
    status: str
    attempts: int
    created_at: str
    last_attempt_at: str | None
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    response_excerpt: str | None


class ClaimedDelivery(NamedTuple):
    """A delivery a worker holds: what it needs to make the attempt."""

    pk: int
    id: str
    attempts: int
    test: bool
    webhook_pk: int
    webhook_id: str
    merchant_id: str
    payload: dict[str, Any]
    webhook_version: int  # the webhook's version when claimed (it changes on every edit)


_d, _w, _n = t.deliveries.c, t.webhooks.c, t.notifications.c
SELECT_DELIVERIES = (
    select(_d.pk, _d.id, _d.webhook_pk, _w.id, _n.id, _n.type, _d.test, _d.status, _d.attempts,
           _d.created_at, _d.last_attempt_at, _d.next_attempt_at, _d.last_status_code,
           _d.last_error, _d.response_excerpt)
    .select_from(t.deliveries.join(t.webhooks).join(t.notifications))
)
_SELECT_CLAIMED = (
    select(_d.pk, _d.id, _d.attempts, _d.test, _d.webhook_pk, _w.id, _w.merchant_id, _n.payload,
           _w.version)
    .select_from(t.deliveries.join(t.webhooks).join(t.notifications))
)

# Built once, the values bound at execution: no per-call coercion of each value.
_INSERT_NOTIFICATION = insert(t.notifications)
_INSERT_DELIVERY = insert(t.deliveries)
_INSERT_ATTEMPT = insert(t.attempts)


def insert_notification(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(_INSERT_NOTIFICATION, values)
    pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
    assert pk is not None
    return int(pk)


def recent_payloads(conn: Connection, merchant_id: str, notification_type: str,
                    terminal_id: str, *, test: bool, window: int) -> list[dict[str, Any]]:
    """The payloads of the merchant's notifications of a type at a terminal, newest
    first, among the latest ``window`` notifications of the database (a range of the
    primary key, so the search stays bounded however many there are)."""
    n = t.notifications.c
    newest = conn.execute(select(func.max(n.pk))).scalar()
    if newest is None:
        return []
    query = (select(n.payload)
             .where(n.pk > int(newest) - window, n.merchant_id == merchant_id,
                    n.type == notification_type, n.terminal_id == terminal_id,
                    n.test.is_(test))
             .order_by(n.pk.desc()))
    return [row.payload for row in conn.execute(query) if isinstance(row.payload, dict)]


def insert_deliveries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(t.deliveries), [{"reported_attempts": 0, **row} for row in rows])


def insert_delivery(conn: Connection, row: dict[str, Any]) -> int:
    result = conn.execute(_INSERT_DELIVERY, {"reported_attempts": 0, **row})
    pk = result.inserted_primary_key[0] if result.inserted_primary_key else None
    assert pk is not None
    return int(pk)


def delivery_targets(conn: Connection, merchant_id: str, terminal_id: str,
                     store_code: str, notification: str) -> list[tuple[int, str, str]]:
    """(pk, id, name) of the enabled webhooks that cover the terminal and subscribe
    to the notification type, in creation order."""
    w, wn = t.webhooks.c, t.webhook_notifications.c
    query = (
        select(w.pk, w.id, w.name)
        .where(w.merchant_id == merchant_id, w.enabled.is_(True))
        .where(exists().where(wn.webhook_pk == w.pk, wn.notification == notification))
        .where(or_(
            w.app_kind == "merchant",
            and_(w.app_kind == "store", w.app_ref == store_code),
            and_(w.app_kind == "terminal", w.app_ref == terminal_id),
        ))
        .order_by(w.pk)
    )
    return [(int(r.pk), str(r.id), str(r.name)) for r in conn.execute(query)]


def list_deliveries(conn: Connection, webhook_pk: int, limit: int) -> list[DeliveryRow]:
    """A webhook's deliveries, newest first."""
    query = (SELECT_DELIVERIES.where(t.deliveries.c.webhook_pk == webhook_pk)
             .order_by(t.deliveries.c.pk.desc()).limit(limit))
    return [DeliveryRow._make(row) for row in conn.execute(query)]


def _due(now: str) -> ColumnElement[bool]:
    """Due now: pending or failed, its time come, and no live lease (nobody on it)."""
    d = t.deliveries.c
    return and_(
        d.status.in_(DUE_STATUSES), d.next_attempt_at.is_not(None),
        d.next_attempt_at <= now, or_(d.lease_until.is_(None), d.lease_until <= now),
    )


class Candidate(NamedTuple):
    """A due delivery a worker might claim: whose webhook, whose merchant."""

    pk: int
    webhook_pk: int
    merchant_id: str


def due_candidates(conn: Connection, *, now: str, per_webhook: int, limit: int,
                   full: Collection[int] = (), exclude: Collection[int] = ()
                   ) -> list[Candidate]:
    """Due deliveries, at most ``per_webhook`` of each webhook (its oldest), leaving out
    the webhooks in ``full`` and the deliveries in ``exclude``: each webhook's oldest
    first (by due time), then each one's second, and so on; ``limit`` rows at most.

    A plain read on either database: candidates, not claims. The ranking needs a window
    function, which PostgreSQL cannot lock rows under, and locking every due row to rank
    them would stall the other workers; ``claim_rows`` locks what it takes (skipping what
    another worker holds) and re-checks that each row is still due."""
    d, w = t.deliveries.c, t.webhooks.c
    rank = func.row_number().over(partition_by=d.webhook_pk,
                                  order_by=(d.next_attempt_at, d.pk)).label("rank")
    inner = (select(d.pk, d.webhook_pk, w.merchant_id, d.next_attempt_at, rank)
             .select_from(t.deliveries.join(t.webhooks)).where(_due(now)))
    if full:
        inner = inner.where(d.webhook_pk.not_in(list(full)))
    if exclude:
        inner = inner.where(d.pk.not_in(list(exclude)))
    ranked = inner.subquery()
    query = (select(ranked.c.pk, ranked.c.webhook_pk, ranked.c.merchant_id)
             .where(ranked.c.rank <= per_webhook)
             .order_by(ranked.c.rank, ranked.c.next_attempt_at, ranked.c.pk).limit(limit))
    return [Candidate(int(r.pk), int(r.webhook_pk), str(r.merchant_id))
            for r in conn.execute(query)]


def claim_rows(conn: Connection, pks: Collection[int], *, now: str, lease_until: str,
          claim: str) -> list[ClaimedDelivery]:
    """Take the given deliveries for this worker (``claim``) until ``lease_until``, those
    still due: one UPDATE whose WHERE re-checks the due condition and the lease, so two
    workers on one database never both take a row (a row another worker just claimed,
    or just recorded, no longer matches; on PostgreSQL the rows are locked first, FOR
    UPDATE SKIP LOCKED). Returns what was taken, in due order."""
    if not pks:
        return []
    d = t.deliveries.c
    taken: ColumnElement[bool] = d.pk.in_(list(pks))
    if conn.dialect.name == "postgresql":
        # Lock the rows first, passing over those another worker is claiming right now
        # (FOR UPDATE SKIP LOCKED): no worker waits on another's claim.
        free = (select(d.pk).where(d.pk.in_(list(pks)), _due(now))
                .with_for_update(skip_locked=True))
        taken = d.pk.in_(free.scalar_subquery())
    conn.execute(update(t.deliveries).where(taken, _due(now))
                 .values(lease_until=lease_until, claim=claim))
    return [ClaimedDelivery._make(row)
            for row in conn.execute(_SELECT_CLAIMED.where(d.claim == claim)
                                    .order_by(d.next_attempt_at, d.pk))]


def claim_due(conn: Connection, *, now: str, lease_until: str, claim: str,
              limit: int) -> list[ClaimedDelivery]:
    """Take up to ``limit`` of the oldest due deliveries, whatever their webhook (on
    PostgreSQL the oldest no other worker is claiming: FOR UPDATE SKIP LOCKED)."""
    d = t.deliveries.c
    oldest = select(d.pk).where(_due(now)).order_by(d.next_attempt_at, d.pk).limit(limit)
    if conn.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    pks = [int(pk) for pk in conn.execute(oldest).scalars()]
    return claim_rows(conn, pks, now=now, lease_until=lease_until, claim=claim)


def extend_leases(conn: Connection, pks: Collection[int], claims: Collection[str],
                  lease_until: str) -> int:
    """Push back the lease of the deliveries ``pks`` still held under one of ``claims``
    (one recorded, or lost to another worker, matches nothing); how many rows."""
    if not pks:
        return 0
    d = t.deliveries.c
    result = conn.execute(update(t.deliveries)
                          .where(d.pk.in_(list(pks)), d.claim.in_(list(claims)))
                          .values(lease_until=lease_until))
    return int(result.rowcount)


def finish_delivery(conn: Connection, pk: int, claim: str, values: dict[str, Any],
                    attempt: dict[str, Any]) -> bool:
    """Record an attempt (the delivery's new state and the attempt's own row), if this
    worker still holds the claim (False otherwise: nothing is written)."""
    d = t.deliveries.c
    result = conn.execute(update(t.deliveries).where(d.pk == pk, d.claim == claim)
                          .values(lease_until=None, claim=None, **values))
    if result.rowcount != 1:
        return False
    conn.execute(_INSERT_ATTEMPT, {"delivery_pk": pk, **attempt})
    return True


FINISH_COLUMNS = ("status", "attempts", "last_attempt_at", "next_attempt_at",
                  "last_status_code", "last_error", "response_excerpt")


def finish_deliveries(conn: Connection,
                      group: Sequence[tuple[int, str, dict[str, Any], dict[str, Any]]]
                      ) -> list[bool]:
    """``finish_delivery`` for many outcomes at once: (pk, claim, values, attempt) each,
    with ``values`` holding exactly ``FINISH_COLUMNS``. Each is written only if its claim
    still holds; three statements whatever the size of the group. Returns, for each,
    whether it was written."""
    if not group:
        return []
    d = t.deliveries.c
    holders = dict(conn.execute(select(d.pk, d.claim)
                                .where(d.pk.in_([pk for pk, _, _, _ in group]))).all())
    kept = [holders.get(pk) == claim for pk, claim, _, _ in group]
    mine = [item for item, ok in zip(group, kept, strict=True) if ok]
    if mine:
        statement = (update(t.deliveries)
                     .where(d.pk == bindparam("b_pk"), d.claim == bindparam("b_claim"))
                     .values(lease_until=None, claim=None,
                             **{name: bindparam("b_" + name) for name in FINISH_COLUMNS}))
        conn.execute(statement, [{"b_pk": pk, "b_claim": claim,
                                  **{"b_" + name: values[name] for name in FINISH_COLUMNS}}
                                 for pk, claim, values, _ in mine])
        conn.execute(insert(t.attempts),
                     [{"delivery_pk": pk, **attempt} for pk, _, _, attempt in mine])
    return kept


class AttemptRow(NamedTuple):
    """One attempt of a delivery, as the log shows it."""

    delivery_pk: int
    number: int
    started_at: str
    duration_ms: int
    outcome: str
    status_code: int | None
    error: str | None
    response_excerpt: str | None


def attempts_of(conn: Connection, delivery_pks: Sequence[int]) -> dict[int, list[AttemptRow]]:
    """Every attempt of the given deliveries, oldest first, by delivery pk."""
    found: dict[int, list[AttemptRow]] = {pk: [] for pk in delivery_pks}
    if not delivery_pks:
        return found
    a = t.attempts.c
    query = (select(a.delivery_pk, a.number, a.started_at, a.duration_ms, a.outcome,
                    a.status_code, a.error, a.response_excerpt)
             .where(a.delivery_pk.in_(list(delivery_pks))).order_by(a.delivery_pk, a.number))
    for row in conn.execute(query):
        found[int(row.delivery_pk)].append(AttemptRow._make(row))
    return found


def unreported_failures(conn: Connection,
                        limit: int) -> list[tuple[DeliveryRow, dict[str, Any]]]:
    """Failed or given-up deliveries (not tests) with attempts their webhook's support
    address has not been told about, by webhook; each with the webhook's facts."""
    d, w = t.deliveries.c, t.webhooks.c
    query = (
        SELECT_DELIVERIES.add_columns(w.support_email, w.name, w.url, w.email)
        .where(d.status.in_(("failed", "gave_up")), d.test.is_(False),
               d.attempts > d.reported_attempts, w.support_email.is_not(None))
        .order_by(d.webhook_pk, d.pk).limit(limit)
    )
    width = len(DeliveryRow._fields)
    return [(DeliveryRow._make(row[:width]),
             {"support_email": row[width], "name": row[width + 1], "url": row[width + 2],
              "email": row[width + 3]})
            for row in conn.execute(query)]


def mark_reported(conn: Connection, reported: Sequence[tuple[int, int]]) -> None:
    """Remember the attempts a summary covered: (delivery pk, attempts) pairs."""
    d = t.deliveries.c
    for pk, attempts in reported:
        conn.execute(update(t.deliveries).where(d.pk == pk)
                     .values(reported_attempts=attempts))

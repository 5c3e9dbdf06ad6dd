"""Notifications and their deliveries: fan-out, attempts, retries, tests, summaries.

Delivery is at least once and unordered. A delivery row is claimed by one worker at
a time (a lease in the row, taken with one conditional UPDATE) just before its attempt,
attempted outside any transaction, and the outcome recorded if the claim still holds;
the scheduling (per-webhook and total slots, merchants in turn), the leases kept alive
while an attempt runs and the group commits of outcomes live in ``scheduler`` and
``recorder``. A worker that dies mid-attempt leaves a lease that expires, and the
delivery is tried again. Secrets are opened at attempt time from the record
(``rotation.delivery_keys``: during a rotation's grace, which secrets a delivery uses)
and live only in memory. The engine gets the database, the
sealing, the clock and its settings when it is built, and knows no other part of the
backoffice.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection

from backoffice import audit, auth, rotation, rules
from backoffice.clock import Clock, iso
from backoffice.db import delivery_queries as dq
from backoffice.db import merchant_queries as mq
from backoffice.db.delivery_queries import ClaimedDelivery, DeliveryRow
from backoffice.db.engine import Database
from backoffice.db.webhook_queries import (
    WebhookRecord,
    acknowledge_secret,
    forget_expired_secrets,
    get_webhook,
)
from backoffice.delivery import notification, recorder, summaries
from backoffice.delivery.mail import Mailer, MailError, SmtpAccess, notification_email
from backoffice.delivery.recorder import Finished
from backoffice.delivery.scheduler import Dispatcher
from backoffice.delivery.sender import Outcome, Sender
from backoffice.delivery.settings import DeliverySettings
from backoffice.errors import Invalid, NotFound, SetupError
from backoffice.sealing import Sealing
from contract import catalogue, formats, payloads, times
from contract.catalogue import Scenario
from contract.times import iso_millis
from contract.urls import redact_url

log = logging.getLogger("backoffice.delivery")

MAX_DELIVERIES_PAGE: Final = 1000
REQUEST_EXCERPT: Final = 512


# A delivery moment: ISO-8601 UTC with milliseconds, fixed width (text order = time).
moment = iso_millis


def _deliveries(count: int) -> str:
    return f"{count} {'delivery' if count == 1 else 'deliveries'}"


def parse_moment(text: str) -> datetime:
    return times.parse_moment(text)


def delivery_dict(row: DeliveryRow) -> dict[str, Any]:
    """A delivery as the API returns it."""
    return {
        "id": row.id, "webhook_id": row.webhook_id, "notification_id": row.notification_id,
        "notification_type": row.notification_type, "test": bool(row.test),
        "status": row.status, "attempts": row.attempts, "created_at": row.created_at,
        "last_attempt_at": row.last_attempt_at, "next_attempt_at": row.next_attempt_at,
        "last_status_code": row.last_status_code, "last_error": row.last_error,
        "response_excerpt": row.response_excerpt,
    }


class Deliveries:
    """The delivery engine: emit_notification, test_webhook, list_deliveries, deliver_due
    (the worker's round) and send_support_summaries."""

    def __init__(self, db: Database, sealing: Sealing, settings: DeliverySettings, *,
                 clock: Clock, data_dir: Path | None, smtp: SmtpAccess | None = None) -> None:
        self.db = db
        self.sealing = sealing
        self.clock = clock
        self.settings = settings
        # Set by emit: a worker waiting for its next round starts it now.
        self.work_available = threading.Event()
        self.tally = recorder.Tally()  # outcomes committed since this process started
        self.sender = Sender(timeout_s=settings.timeout_s,
                             allow_private_targets=settings.allow_private_targets,
                             resolver=settings.resolver)
        outbox = settings.outbox_dir
        if outbox is None and data_dir is not None:
            outbox = data_dir / "outbox"
        try:
            self.mailer = Mailer(smtp_url=settings.smtp_url, outbox=outbox,
                                 sender=settings.mail_from, timeout_s=settings.timeout_s,
                                 access=smtp)
        except ValueError as exc:
            raise SetupError(str(exc)) from None

    def close(self) -> None:
        self.sender.close()

    def _clock(self, now: datetime | None = None) -> datetime:
        return self.clock() if now is None else now

    # --- emit ------------------------------------------------------------------------

    def emit_notification(self, merchant_id: str, body: Mapping[str, Any], *,
                          actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """Create a notification and a pending delivery for every webhook it concerns
        (at most ``settings.emits_per_minute`` a minute per merchant: 429 beyond)."""
        given = notification.parse_emit(body)
        chosen: Scenario = given["scenario"]
        code = chosen.type.code
        started = self._clock()
        now = moment(started)
        with self.db.write() as conn:
            if not mq.merchant_exists(conn, merchant_id):
                raise NotFound(f"no merchant {merchant_id!r}")
            audit.check_rate(conn, merchant_id, audit.NOTIFICATION_EMIT,
                             limit=self.settings.emits_per_minute, now=started, what="emits")
            store_code = mq.terminal_store(conn, merchant_id, given["terminal"])
            if store_code is None:
                known = [tid for tid, _ in mq.terminals(conn, merchant_id)]
                raise Invalid(f"terminal {given['terminal']!r} is not one of this merchant's; "
                              f"known terminals: {', '.join(known[:20]) or 'none'}")
            targets = dq.delivery_targets(conn, merchant_id, given["terminal"], store_code, code)
            payload = payloads.build(
                chosen.variant, terminal=given["terminal"],
                merchant_name=mq.merchant_name(conn, merchant_id) or merchant_id,
                when=started, amount=given["amount"], status=given["status"],
                method=given["payment_method"],
                previous=notification.previous(conn, merchant_id, chosen, given["terminal"],
                                               test=False))
            pk = dq.insert_notification(conn, self._notification_row(
                merchant_id, payload, code, given["terminal"], now, test=False))
            rows = [self._delivery_row(webhook_pk, pk, now, test=False, next_attempt_at=now)
                    for webhook_pk, _, _ in targets]
            dq.insert_deliveries(conn, rows)
            audit.record(conn, actor, merchant_id, audit.NOTIFICATION_EMIT, at=started,
                         status=201, target_id=payload["notificationID"],
                         target_name=code, fields=list(body),
                         note=f"{chosen.name} at terminal {given['terminal']}, "
                              f"{_deliveries(len(rows))}")
        if rows:
            self.work_available.set()
        return {
            "notification": payload,
            "notification_type": code,
            "scenario": chosen.name,
            "deliveries": [{"id": row["id"], "webhook": name, "webhook_id": webhook_id,
                            "status": "pending"}
                           for row, (_, webhook_id, name) in zip(rows, targets, strict=True)],
        }

    @staticmethod
    def _notification_row(merchant_id: str, payload: dict[str, Any], code: str, terminal: str,
                          now: str, *, test: bool) -> dict[str, Any]:
        return {"id": payload["notificationID"], "merchant_id": merchant_id,
                "type": code, "terminal_id": terminal, "test": test,
                "payload": payload, "created_at": now}

    @staticmethod
    def _delivery_row(webhook_pk: int, notification_pk: int, now: str, *, test: bool,
                      next_attempt_at: str | None, lease_until: str | None = None,
                      claim: str | None = None) -> dict[str, Any]:
        return {"id": "dl_" + secrets.token_hex(12), "webhook_pk": webhook_pk,
                "notification_pk": notification_pk, "test": test, "status": "pending",
                "attempts": 0, "created_at": now, "next_attempt_at": next_attempt_at,
                "lease_until": lease_until, "claim": claim}

    # --- the log ---------------------------------------------------------------------

    def list_deliveries(self, merchant_id: str, webhook_id: str, *,
                        limit: int = 20) -> list[dict[str, Any]]:
        """A webhook's deliveries, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) \
                or not 1 <= limit <= MAX_DELIVERIES_PAGE:
            raise Invalid(f"limit must be between 1 and {MAX_DELIVERIES_PAGE}")
        with self.db.read() as conn:
            record = get_webhook(conn, merchant_id, id=webhook_id)
            if record is None:
                raise NotFound(f"no webhook with id {webhook_id[:64]!r}")
            rows = dq.list_deliveries(conn, record.pk, limit)
        return [delivery_dict(row) for row in rows]

    # --- test ------------------------------------------------------------------------

    def test_webhook(self, merchant_id: str, webhook_id: str, *,
                     notification_type: str | None = None,
                     scenario: str | None = None,
                     actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """Send one test notification now and say what happened (recorded as a test
        delivery; never retried); at most ``settings.test_fires_per_minute`` a minute
        per merchant (429 beyond). ``scenario`` names what to send (its type must be one
        the webhook subscribes to); else the default scenario of ``notification_type``,
        else of the webhook's first type."""
        started = self._clock()
        now = moment(started)
        claim = secrets.token_hex(16)
        with self.db.write() as conn:
            record = get_webhook(conn, merchant_id, id=webhook_id)
            if record is None:
                raise NotFound(f"no webhook with id {webhook_id[:64]!r}")
            if record.type != "url":
                raise Invalid("an e-mail webhook can't be tested; only URL webhooks have a test")
            chosen = self._test_scenario(record, notification_type, scenario)
            audit.check_rate(conn, merchant_id, audit.WEBHOOK_TEST,
                             limit=self.settings.test_fires_per_minute, now=started,
                             what="test-fires")
            terminal = self._sample_terminal(conn, merchant_id, record)
            payload = payloads.build(
                chosen.variant, terminal=terminal,
                merchant_name=mq.merchant_name(conn, merchant_id) or merchant_id,
                when=started, test=True,
                previous=notification.previous(conn, merchant_id, chosen, terminal, test=True))
            pk = dq.insert_notification(conn, self._notification_row(
                merchant_id, payload, chosen.type.code, terminal, now, test=True))
            row = self._delivery_row(
                record.pk, pk, now, test=True, next_attempt_at=None, claim=claim,
                lease_until=moment(started + timedelta(seconds=self.settings.lease_s)))
            delivery_pk = dq.insert_delivery(conn, row)
            audit.record(conn, actor, merchant_id, audit.WEBHOOK_TEST, at=started, status=200,
                         target_id=record.id, target_name=record.name,
                         fields=[name for name, given in (("notification", notification_type),
                                                          ("scenario", scenario)) if given],
                         note=f"{chosen.name}, delivery {row['id']}")
        secret, also = rotation.delivery_keys(self.sealing, record, iso(started), test=True)
        outcome, request = self._attempt_url(record, secret, payload, also)
        self._record(row["id"], delivery_pk, claim, 0, outcome, test=True,
                     final=False, now=None, webhook_id=record.id)
        if outcome.delivered and rotation.awaits_acknowledgement(record, iso(started)):
            self._acknowledged(record)
        return {
            "delivered": outcome.delivered,
            "reason": outcome.reason,
            "notification": payload,
            "notification_type": chosen.type.code,
            "scenario": chosen.name,
            "request": request,
            "response": {"status": outcome.status, "headers": outcome.headers,
                         "body_excerpt": outcome.body_excerpt,
                         "duration_ms": outcome.duration_ms, "error": outcome.error},
            "delivery_id": row["id"],
        }

    def _acknowledged(self, record: WebhookRecord) -> None:
        """A sibs test-fire with the new secret was acknowledged during its rotation's
        grace: deliveries use the new secret from now on."""
        assert record.secret_fingerprint is not None
        with self.db.write() as conn:
            switched = acknowledge_secret(conn, record.pk, record.secret_fingerprint,
                                          iso(self._clock()))
        if switched:
            log.info("webhook %s: the new secret was acknowledged; deliveries use it now",
                     record.id)

    @staticmethod
    def _test_scenario(record: WebhookRecord, wanted: str | None,
                       scenario: str | None) -> Scenario:
        code = None if wanted is None else rules.notification_type("notification", wanted)
        chosen = (notification.scenario("scenario", scenario, code) if scenario is not None
                  else catalogue.default_scenario(code or record.notifications[0]))
        if chosen.type.code not in record.notifications:
            raise Invalid(f"notification {chosen.type.code!r} is not one this webhook "
                          f"subscribes to; it subscribes to: {', '.join(record.notifications)}")
        return chosen

    def _sample_terminal(self, conn: Connection, merchant_id: str, record: WebhookRecord) -> str:
        """A terminal the webhook covers, for the test notification."""
        if record.app_kind == "terminal" and record.app_ref is not None:
            return record.app_ref
        for terminal_id, store_code in mq.terminals(conn, merchant_id):
            if record.app_kind == "merchant" or store_code == record.app_ref:
                return terminal_id
        return "0"

    # --- attempts --------------------------------------------------------------------

    def _attempt_url(self, record: WebhookRecord, secret: str | None,
                     payload: dict[str, Any],
                     also: tuple[str, ...] = ()) -> tuple[Outcome, dict[str, Any]]:
        """One POST in the webhook's format, with ``secret`` (and proving ``also`` too,
        for a format that can): (outcome, the request as the test shows it)."""
        url = self.sealing.delivery_url(record) or ""
        notification_id = str(payload["notificationID"])
        request: dict[str, Any] = {"method": "POST", "url": redact_url(url), "headers": {},
                                   "body_excerpt": ""}
        if secret is None:
            reason = "the webhook has no secret"
            return Outcome(False, reason, error=reason), request
        delivery = formats.REGISTRY.get(record.format or formats.DEFAULT)
        if delivery is None:
            reason = f"the webhook's format {str(record.format)[:40]!r} is unknown"
            return Outcome(False, reason, error=reason), request
        try:
            headers, body = delivery.encode(
                payload, secret, message_id="msg_" + notification_id,
                timestamp=int(time.time()),  # a receiver checks it against its clock
                also=also)
        except formats.FormatError as exc:
            return Outcome(False, str(exc), error=str(exc)), request

        def acknowledge(status: int, answer: bytes) -> tuple[bool, str]:
            return delivery.acknowledged(status, answer, notification_id)

        request["headers"] = dict(headers)
        request["body_excerpt"] = body[:REQUEST_EXCERPT].decode("utf-8", "replace")
        return self.sender.send(url, headers, body, acknowledge=acknowledge), request

    def _attempt_email(self, record: WebhookRecord, payload: dict[str, Any]) -> Outcome:
        start = time.perf_counter()
        with self.db.read() as conn:
            merchant_name = mq.merchant_name(conn, record.merchant_id)
        message = notification_email(payload, to=record.email or "", webhook_name=record.name,
                                     merchant_name=merchant_name or record.merchant_id)
        try:
            where = self.mailer.send(message)
        except MailError as exc:
            took = round((time.perf_counter() - start) * 1000, 1)
            return Outcome(False, str(exc), duration_ms=took, error=str(exc))
        took = round((time.perf_counter() - start) * 1000, 1)
        return Outcome(True, "handed over", body_excerpt=where, duration_ms=took)

    def deliver_due(self, *, now: datetime | None = None, limit: int = 100) -> int:
        """Attempt what is due now, up to ``limit`` (each at most once; ``per_webhook``
        of a webhook and ``concurrency`` in all at once) and record every outcome before
        returning; returns how many attempts were made."""
        dispatcher = Dispatcher(self.db, self.settings, self.clock, self._attempt, now=now,
                                tally=self.tally)
        return dispatcher.drain(limit)

    def _attempt(self, item: ClaimedDelivery, record: WebhookRecord) -> tuple[Outcome, bool]:
        """One attempt of a claimed delivery: (outcome, final: never retry)."""
        if not record.enabled:
            reason = "the webhook was disabled before this delivery"
            return Outcome(False, reason, error=reason), True
        if record.type == "url":
            secret, also = rotation.delivery_keys(self.sealing, record, iso(self._clock()),
                                                  test=False)
            outcome, _ = self._attempt_url(record, secret, item.payload, also)
            return outcome, False
        return self._attempt_email(record, item.payload), False

    def _record(self, delivery_id: str, pk: int, claim: str, attempts_before: int,
                outcome: Outcome, *, test: bool, final: bool, now: datetime | None,
                webhook_id: str) -> None:
        """Record one attempt in its own transaction (a test fire's)."""
        done = Finished(delivery_id, pk, claim, attempts_before, outcome, test=test,
                        final=final, finished=self._clock(now), webhook_id=webhook_id)
        with self.db.write() as conn:
            ((kept, next_attempt),) = recorder.write(conn, [done],
                                                     self.settings.retry_schedule)
        recorder.report(done, kept, next_attempt)
        self.tally.note(done, kept, next_attempt)

    def forget_expired_secrets(self, *, now: datetime | None = None) -> int:
        """Drop the previous secrets whose rotation's grace has ended; how many."""
        with self.db.write() as conn:
            return forget_expired_secrets(conn, iso(self._clock(now)))

    # --- support summaries -----------------------------------------------------------

    def send_support_summaries(self, *, now: datetime | None = None,
                               force: bool = False) -> int:
        """E-mail each support address one summary of the failures of every webhook that
        names it, since the last summary, when the summary interval has passed (or
        ``force``); returns how many e-mails went out (see ``summaries``)."""
        return summaries.send_support_summaries(
            self.db, self.mailer, when=self._clock(now),
            interval_s=self.settings.summary_interval_s, force=force)

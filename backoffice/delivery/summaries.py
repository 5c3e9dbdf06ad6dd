"""Support summaries: once a period, one e-mail per support address, listing the failed
deliveries (not tests) of every webhook that names that address, since the last summary.

The period is a compare-and-set in meta (``support_summary_at``), so one process sends
each round however many run. A round reads at most ``SUMMARY_BATCH`` failures (by
webhook, oldest first); what did not fit is reported the next period. Each address's
failures are marked reported only once its e-mail was handed over, so a relay that is
down loses nothing: the next period sends them. Addresses are told apart as mailboxes
(the domain's case does not count); the e-mail goes to the address as first written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Final

from backoffice.db import delivery_queries as dq
from backoffice.db.delivery_queries import DeliveryRow
from backoffice.db.engine import Database
from backoffice.db.meta import get_meta, swap_meta
from backoffice.delivery.mail import Mailer, MailError
from contract import times
from contract.times import iso_millis

log = logging.getLogger("backoffice.delivery")

SUMMARY_META: Final = "support_summary_at"
SUMMARY_BATCH: Final = 5000


@dataclass
class WebhookFailures:
    """One webhook's facts (id, name, url or email) and its failed deliveries."""

    webhook: dict[str, Any]
    failures: list[DeliveryRow] = field(default_factory=list)


@dataclass
class Summary:
    """What one support address is told: its webhooks, in the order they were read."""

    to: str
    webhooks: list[WebhookFailures] = field(default_factory=list)

    @property
    def rows(self) -> list[DeliveryRow]:
        return [row for item in self.webhooks for row in item.failures]


def mailbox(address: str) -> str:
    """The key addresses are grouped by: the local part as written, the domain lower-cased."""
    local, _, domain = address.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def group(failures: Sequence[tuple[DeliveryRow, dict[str, Any]]]) -> list[Summary]:
    """Failures (each with its webhook's facts) -> one Summary per support address."""
    summaries: dict[str, Summary] = {}
    by_webhook: dict[int, WebhookFailures] = {}
    for row, facts in failures:
        address = str(facts["support_email"])
        summary = summaries.setdefault(mailbox(address), Summary(address))
        item = by_webhook.get(row.webhook_pk)
        if item is None:
            item = WebhookFailures({"id": row.webhook_id, **facts})
            by_webhook[row.webhook_pk] = item
            summary.webhooks.append(item)
        item.failures.append(row)
    return list(summaries.values())


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def subject(summary: Summary) -> str:
    rows = summary.rows
    gave_up = sum(1 for row in rows if row.status == "gave_up")
    names = [str(item.webhook["name"]) for item in summary.webhooks]
    if len(names) == 1:
        which = f"Webhook {names[0]}"
    else:
        shown = ", ".join(names[:3])
        which = f"Webhooks {shown}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    failed = _plural(len(rows), "failed delivery", "failed deliveries")
    return f"{which}: {failed}{f' ({gave_up} given up)' if gave_up else ''}"


def _cause(row: DeliveryRow) -> str:
    return row.last_error or (f"HTTP {row.last_status_code}" if row.last_status_code else "")


def summary_email(summary: Summary) -> EmailMessage:
    """The support summary: every webhook naming this address, with its failures."""
    message = EmailMessage()
    message["To"] = summary.to
    message["Subject"] = subject(summary)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid("support-summary")
    count = len(summary.webhooks)
    lines = [
        f"Deliveries of {_plural(count, 'webhook', 'webhooks')} that name this address "
        "for support failed since the last summary.",
        "'failed' deliveries will be retried; 'gave_up' ones will not.",
    ]
    for item in summary.webhooks:
        webhook = item.webhook
        target = webhook.get("url") or webhook.get("email")
        lines += ["", f"Webhook {webhook['name']} ({webhook['id']}) to {target}: "
                      f"{_plural(len(item.failures), 'failed delivery', 'failed deliveries')}"]
        for row in item.failures:
            lines.append(f"- {row.id}  {row.notification_type}  "
                         f"notification {row.notification_id}")
            lines.append(f"  status {row.status} after {row.attempts} attempt(s), "
                         f"last at {row.last_attempt_at}: {_cause(row)}")
            if row.next_attempt_at:
                lines.append(f"  next attempt at {row.next_attempt_at}")
    lines += ["", "This summary is sent to the support e-mail address of these webhooks.", ""]
    message.set_content("\n".join(lines))
    return message


def send_support_summaries(db: Database, mailer: Mailer, *, when: datetime,
                           interval_s: float, force: bool = False) -> int:
    """E-mail each support address the failures of its webhooks since the last summary,
    when the period has passed (or ``force``); returns how many e-mails went out."""
    with db.read() as conn:
        last = get_meta(conn, SUMMARY_META)
    interval = timedelta(seconds=interval_s)
    if not force and last is not None and times.parse_moment(last) + interval > when:
        return 0
    with db.write() as conn:
        if not swap_meta(conn, SUMMARY_META, last, iso_millis(when)):
            return 0
        failures = dq.unreported_failures(conn, SUMMARY_BATCH)
    sent = 0
    for summary in group(failures):
        webhooks = ", ".join(str(item.webhook["id"]) for item in summary.webhooks)
        try:
            mailer.send(summary_email(summary))
        except MailError as exc:
            log.warning("support summary for webhook(s) %s not sent: %s", webhooks, exc)
            continue
        with db.write() as conn:
            dq.mark_reported(conn, [(row.pk, row.attempts) for row in summary.rows])
        sent += 1
    if sent:
        log.info("sent %s", _plural(sent, "support summary", "support summaries"))
    return sent

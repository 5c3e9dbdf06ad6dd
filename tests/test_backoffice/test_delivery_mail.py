"""E-mail webhooks and support summaries: a real SMTP server on loopback (aiosmtpd),
the outbox folder, and the summary job in the worker."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from backoffice import Backoffice
from backoffice.delivery.settings import DeliverySettings
from backoffice.delivery.worker import DeliveryWorker
from backoffice.errors import SetupError
from tests.support.backoffice import Clock, email_webhook, loopback_resolver, url_webhook
from tests.support.processes import free_port
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", inbox
    controller.stop()


def open_office(tmp_path: Path, clock: Clock | None = None, **settings: Any) -> Backoffice:
    delivery = DeliverySettings(**{"resolver": loopback_resolver, "timeout_s": 2.0,
                                   "allow_private_targets": True, **settings})
    return Backoffice.open(f"sqlite:///{tmp_path / 'data' / 'bo.db'}", delivery=delivery,
                           **({"clock": clock} if clock else {}))


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_email_webhook_through_a_real_smtp_server(tmp_path: Path,
                                                   smtp: tuple[str, Inbox]) -> None:
    url, inbox = smtp
    with open_office(tmp_path, smtp_url=url) as office:
        hook = office.webhooks.create_webhook("demo", email_webhook(email="lisbon@shop.example"))
        note = office.deliveries.emit_notification("demo", {
            "terminal": "10002", "type": "mbway", "amount": {"value": 12.5, "currency": "EUR"},
        })["notification"]
        assert office.deliveries.deliver_due() == 1
        (state,) = office.deliveries.list_deliveries("demo", hook["id"])
    assert state["status"] == "delivered" and state["response_excerpt"] == f"sent to {url}"
    (rcpt, message), = inbox.messages
    assert rcpt == ["lisbon@shop.example"]
    assert message["Subject"] == "MB WAY purchase succeeded: 12.50 EUR (terminal 10002)"
    assert message["X-Notification-ID"] == note["notificationID"]
    text = body_of(message)
    assert "Payment status:" in text and note["transactionID"] in text
    assert "Payment type:" in text and "mbway.purchase" in text
    assert f'"notificationID": "{note["notificationID"]}"' in text  # the JSON, readable
    # the MB WAY alias is masked, in the summary and in the JSON alike
    alias = note["token"]["value"]
    assert alias not in text and f"351#{alias[4]}*****{alias[-2:]}" in text


def test_email_goes_to_the_outbox_without_a_relay(tmp_path: Path) -> None:
    with open_office(tmp_path) as office:
        hook = office.webhooks.create_webhook("demo", email_webhook())
        office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})
        assert office.deliveries.deliver_due() == 1
        (state,) = office.deliveries.list_deliveries("demo", hook["id"])
    (eml,) = (tmp_path / "data" / "outbox").glob("*.eml")
    assert state["status"] == "delivered" and str(eml) in state["response_excerpt"]
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "lisbon@shop.example" and "MB WAY" in message["Subject"]
    assert not list((tmp_path / "data" / "outbox").glob(".*"))  # no temp file left


def test_a_relay_that_is_down_is_a_failed_delivery(tmp_path: Path) -> None:
    with open_office(tmp_path, smtp_url=f"smtp://127.0.0.1:{free_port()}") as office:
        hook = office.webhooks.create_webhook("demo", email_webhook())
        office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})
        office.deliveries.deliver_due()
        (state,) = office.deliveries.list_deliveries("demo", hook["id"])
    assert state["status"] == "failed"
    assert state["last_error"].startswith("cannot reach the SMTP relay 127.0.0.1:")
    with pytest.raises(SetupError, match=r"smtp://\[user@\]host:port"):
        open_office(tmp_path, smtp_url="http://mail.example")


def test_support_summary_lists_new_failures_once_per_interval(
        tmp_path: Path, smtp: tuple[str, Inbox]) -> None:
    url, inbox = smtp
    receiver = Receiver(script=["500"])
    clock = Clock()
    try:
        with open_office(tmp_path, clock, smtp_url=url, retry_schedule=(60.0,)) as office:
            hook = office.webhooks.create_webhook("demo", url_webhook(
                url=receiver.url(), secret=SIBS_SECRET, support_email="ops@shop.example"))
            quiet = office.webhooks.create_webhook("demo", url_webhook(
                "no-support", url=receiver.url(), secret=SIBS_SECRET))
            for _ in range(2):
                office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})
            office.deliveries.test_webhook("demo", hook["id"])  # a failed test: never summarised
            assert office.deliveries.deliver_due() == 4
            assert office.deliveries.send_support_summaries() == 1
            (rcpt, message), = inbox.messages
            assert rcpt == ["ops@shop.example"]
            assert message["Subject"] == f"Webhook {hook['name']}: 2 failed deliveries"
            text = body_of(message)
            failed = [d for d in office.deliveries.list_deliveries("demo", hook["id"])
                      if not d["test"]]
            assert all(d["id"] in text for d in failed) and "HTTP 500" in text
            assert quiet["id"] not in text
            clock.advance(seconds=61)
            assert office.deliveries.send_support_summaries() == 0  # a day has not passed
            assert office.deliveries.deliver_due() == 4  # the retries fail for good
            clock.advance(days=1)
            assert office.deliveries.send_support_summaries() == 1
            assert "2 failed deliveries (2 given up)" in inbox.messages[1][1]["Subject"]
            clock.advance(days=1)
            assert office.deliveries.send_support_summaries() == 0  # nothing new to report
    finally:
        receiver.close()
    assert SIBS_SECRET not in str(inbox.messages)


def test_the_worker_delivers_and_sends_summaries(tmp_path: Path) -> None:
    receiver = Receiver(script=["ack", "500"])
    try:
        with open_office(tmp_path, retry_schedule=(0.05,), summary_interval_s=0.2) as office:
            hook = office.webhooks.create_webhook("demo", url_webhook(
                url=receiver.url(), secret=SIBS_SECRET, support_email="ops@shop.example"))
            worker = DeliveryWorker(office.deliveries, interval_s=0.05)
            worker.start()
            try:
                for _ in range(2):
                    office.deliveries.emit_notification(
                        "demo", {"terminal": "10001", "type": "mbway"})
                outbox = tmp_path / "data" / "outbox"
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not list(outbox.glob("*.eml")):
                    time.sleep(0.02)
            finally:
                assert worker.stop(timeout=10)
            states = sorted(d["status"]
                            for d in office.deliveries.list_deliveries("demo", hook["id"]))
    finally:
        receiver.close()
    assert states == ["delivered", "gave_up"]
    (eml,) = outbox.glob("*.eml")
    summary = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    # The summary goes out with the period after the first failed attempt: the failed
    # delivery may have been given up by then, or still wait for its retry (a loaded
    # machine), so the subject says "(1 given up)" only in the first case.
    assert summary["To"] == "ops@shop.example"
    assert re.fullmatch(r"Webhook orders-backend: 1 failed delivery( \(1 given up\))?",
                        summary["Subject"]), summary["Subject"]
    assert worker.rounds >= 2 and not worker.running

"""E-mail: notifications for e-mail webhooks and failure summaries for support addresses.

Mail goes to an SMTP relay (``smtp://host:port``) or, with none configured, into an
outbox folder of ``.eml`` files (what the embedded default does: nothing leaves the
machine). The messages are plain text a person can read, and carry no secret.
"""

from __future__ import annotations

import json
import os
import secrets
import smtplib
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from contract.catalogue import NOTIFICATION_TYPES

DEFAULT_FROM: Final = "webhooks-backoffice@localhost"
DEFAULT_SMTP_PORT: Final = 25


class MailError(Exception):
    """A message that could not be handed over; ``str()`` is one line for the log."""


def parse_smtp_url(url: str) -> tuple[str, int]:
    """``smtp://host[:port]`` -> (host, port); ValueError with a clear message otherwise."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "smtp" or not parts.hostname or port == -1 or parts.path not in ("", "/"):
        raise ValueError(f"the SMTP URL {url[:100]!r} is not valid: use smtp://host:port")
    return parts.hostname, port or DEFAULT_SMTP_PORT


class Mailer:
    """Hands messages to an SMTP relay, or writes them to an outbox folder."""

    def __init__(self, *, smtp_url: str | None = None, outbox: Path | None = None,
                 sender: str = DEFAULT_FROM, timeout_s: float = 15.0) -> None:
        self.relay = parse_smtp_url(smtp_url) if smtp_url else None
        self.outbox = outbox
        self.sender = sender
        self.timeout_s = timeout_s

    @property
    def where(self) -> str:
        if self.relay is not None:
            return f"smtp://{self.relay[0]}:{self.relay[1]}"
        return str(self.outbox) if self.outbox is not None else "nowhere"

    def send(self, message: EmailMessage) -> str:
        """Send (or file) ``message``; returns where it went, raises MailError."""
        if "From" not in message:
            message["From"] = self.sender
        if self.relay is not None:
            return self._smtp(message, *self.relay)
        if self.outbox is not None:
            return self._file(message, self.outbox)
        raise MailError("no SMTP relay (--smtp-url) and no outbox folder: cannot send e-mail")

    def _smtp(self, message: EmailMessage, host: str, port: int) -> str:
        try:
            with smtplib.SMTP(host, port, timeout=self.timeout_s) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({str(code) for code, _ in exc.recipients.values()})
            raise MailError(f"the SMTP relay refused the recipient ({', '.join(codes)})") from None
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            text = text.splitlines()[0][:200] if text else ""
            raise MailError(f"the SMTP relay answered {exc.smtp_code} {text}".rstrip()) from None
        except (smtplib.SMTPException, OSError) as exc:
            if isinstance(exc, TimeoutError | socket.timeout):
                raise MailError(f"the SMTP relay timed out after {self.timeout_s:g} s") from None
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise MailError(f"cannot reach the SMTP relay {host}:{port}: {reason}") from None
        return f"sent to smtp://{host}:{port}"

    def _file(self, message: EmailMessage, folder: Path) -> str:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.eml"
        path = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(bytes(message))
            os.replace(tmp, path)  # readers never see half a message
        except OSError as exc:
            raise MailError(f"cannot write to the outbox {folder}: {exc.strerror}") from None
        return f"written to {path}"


def _amount(notification: Mapping[str, Any]) -> str:
    amount = notification.get("amount") or {}
    value = amount.get("value")
    shown = f"{value:.2f}" if isinstance(value, int | float) else str(value)
    return f"{shown} {amount.get('currency', '')}".strip()


def notification_email(notification: Mapping[str, Any], *, to: str, webhook_name: str,
                       merchant_name: str) -> EmailMessage:
    """A readable e-mail for one notification, with the JSON at the end."""
    code = str(notification.get("type"))
    label = NOTIFICATION_TYPES.get(code, code)
    merchant = notification.get("merchant") or {}
    test = " [test]" if notification.get("test") else ""
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = (f"{label} payment {notification.get('paymentStatus')}: "
                          f"{_amount(notification)} (terminal {merchant.get('terminalId')})"
                          f"{test}")
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid("notification")
    message["X-Notification-ID"] = str(notification.get("notificationID"))
    rows = [
        ("Notification", f"{label} ({code})"),
        ("Payment status", notification.get("paymentStatus")),
        ("Payment method", notification.get("paymentMethod")),
        ("Amount", _amount(notification)),
        ("Terminal", merchant.get("terminalId")),
        ("Transaction ID", notification.get("transactionID")),
        ("Merchant transaction ID", merchant.get("transactionId")),
        ("Date and time", notification.get("transactionDateTime")),
        ("Notification ID", notification.get("notificationID")),
    ]
    if notification.get("test"):
        rows.append(("Test", "yes: a test notification, not a real payment"))
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"A payment notification for {merchant_name}, sent by webhook {webhook_name}.", ""]
    lines += [f"{name + ':':<{width}}{value}" for name, value in rows]
    lines += ["", "The notification as JSON:", "",
              json.dumps(notification, indent=2, ensure_ascii=False), ""]
    message.set_content("\n".join(lines))
    return message


def summary_email(*, to: str, webhook: Mapping[str, Any],
                  failures: Sequence[Mapping[str, Any]]) -> EmailMessage:
    """The support summary: the deliveries of one webhook that failed since the last one."""
    gave_up = sum(1 for f in failures if f["status"] == "gave_up")
    target = webhook.get("url") or webhook.get("email")
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = (f"Webhook {webhook['name']}: {len(failures)} failed "
                          f"deliver{'y' if len(failures) == 1 else 'ies'}"
                          f"{f' ({gave_up} given up)' if gave_up else ''}")
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid("support-summary")
    lines = [
        f"Deliveries of webhook {webhook['name']} ({webhook['id']}) to {target} failed.",
        "'failed' deliveries will be retried; 'gave_up' ones will not.",
        "",
    ]
    for failure in failures:
        cause = failure.get("last_error") or (
            f"HTTP {failure['last_status_code']}" if failure.get("last_status_code") else "")
        lines.append(f"- {failure['id']}  {failure['notification_type']}  "
                     f"notification {failure['notification_id']}")
        lines.append(f"  status {failure['status']} after {failure['attempts']} attempt(s), "
                     f"last at {failure['last_attempt_at']}: {cause}")
        if failure.get("next_attempt_at"):
            lines.append(f"  next attempt at {failure['next_attempt_at']}")
    lines += ["", "This summary is sent to the webhook's support e-mail address.", ""]
    message.set_content("\n".join(lines))
    return message

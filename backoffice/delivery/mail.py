"""E-mail: notifications for e-mail webhooks, and the transport for support summaries.

Mail goes to an SMTP relay or, with none configured, into an outbox folder of ``.eml``
files (what the embedded default does: nothing leaves the machine). The relay is
``smtp://[user@]host[:port]``, or ``smtp+starttls://...`` to upgrade the connection with
STARTTLS (certificate and host name checked, against the system's CAs or ``ca_file``)
before anything else is said. A user name means AUTH (LOGIN or PLAIN, whichever the
relay offers); its password is given apart from the URL (``SmtpAccess``), is never
written anywhere, and no message or error carries it. A password is only sent over
STARTTLS, or to a relay on loopback. The messages are plain text a person can read,
and carry no secret.
"""

from __future__ import annotations

import json
import os
import secrets
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from contract import kinds, private_files
from contract.urls import is_loopback_host

DEFAULT_FROM: Final = "webhooks-backoffice@localhost"
DEFAULT_SMTP_PORT: Final = 25
SCHEMES: Final = {"smtp": False, "smtp+starttls": True}  # scheme -> STARTTLS
URL_FORM: Final = "smtp://[user@]host:port or smtp+starttls://[user@]host:port"


class MailError(Exception):
    """A message that could not be handed over; ``str()`` is one line for the log."""


@dataclass(frozen=True)
class SmtpRelay:
    """Where the relay is, whether to STARTTLS, and the user to log in as (if any)."""

    host: str
    port: int
    starttls: bool = False
    user: str | None = None

    def __str__(self) -> str:
        scheme = "smtp+starttls" if self.starttls else "smtp"
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


@dataclass(frozen=True)
class SmtpAccess:
    """What the relay's URL does not say: the password (never shown) and the CA file."""

    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None


def parse_smtp_url(url: str) -> SmtpRelay:
    """``smtp[+starttls]://[user@]host[:port]`` -> SmtpRelay; ValueError with a clear
    message otherwise (a password in the URL is refused, and never quoted)."""
    parts = urlsplit(url)
    if parts.password is not None:
        raise ValueError("the SMTP URL must not carry a password (it would show in the "
                         "process list): give it in WEBHOOKS_SMTP_PASSWORD or a file")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in SCHEMES or not parts.hostname or port == -1 \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"the SMTP URL {url[:100]!r} is not valid: use {URL_FORM}")
    user = unquote(parts.username) if parts.username else None
    return SmtpRelay(parts.hostname, port or DEFAULT_SMTP_PORT, SCHEMES[parts.scheme], user)


def check_relay(relay: SmtpRelay, access: SmtpAccess) -> None:
    """ValueError when the URL and the password do not go together, or the password
    would cross the network in clear."""
    if relay.user and not access.password:
        raise ValueError(f"the SMTP URL names the user {relay.user!r} but no password was "
                         "given: set WEBHOOKS_SMTP_PASSWORD or --smtp-password-file")
    if access.password and not relay.user:
        raise ValueError("an SMTP password was given but the SMTP URL names no user: "
                         "use smtp+starttls://user@host:port")
    if access.password and not access.password.isascii():  # smtplib sends AUTH in ASCII
        raise ValueError("the SMTP password holds characters beyond ASCII, which SMTP login "
                         "here cannot send: use an ASCII password")
    if access.password and not relay.starttls and not is_loopback_host(relay.host):
        raise ValueError("the SMTP password would be sent unencrypted: use "
                         "smtp+starttls://... (or --smtp-starttls)")


class Mailer:
    """Hands messages to an SMTP relay, or writes them to an outbox folder."""

    def __init__(self, *, smtp_url: str | None = None, outbox: Path | None = None,
                 sender: str = DEFAULT_FROM, timeout_s: float = 15.0,
                 access: SmtpAccess | None = None) -> None:
        self.relay = parse_smtp_url(smtp_url) if smtp_url else None
        self._access = access or SmtpAccess()
        if self.relay is not None:
            check_relay(self.relay, self._access)
        self.outbox = outbox
        self.sender = sender
        self.timeout_s = timeout_s

    @property
    def where(self) -> str:
        if self.relay is not None:
            return str(self.relay)
        return str(self.outbox) if self.outbox is not None else "nowhere"

    def send(self, message: EmailMessage) -> str:
        """Send (or file) ``message``; returns where it went, raises MailError."""
        if "From" not in message:
            message["From"] = self.sender
        if self.relay is not None:
            try:
                self._smtp(message, self.relay)
            except MailError as exc:
                raise MailError(self._scrub(str(exc))) from None
            return f"sent to {self.relay}"
        if self.outbox is not None:
            return self._file(message, self.outbox)
        raise MailError("no SMTP relay (--smtp-url) and no outbox folder: cannot send e-mail")

    def _scrub(self, text: str) -> str:
        """Belt and braces: no error text may carry the password, whatever a relay says."""
        password = self._access.password
        return text.replace(password, "(password)") if password else text

    def _tls(self) -> ssl.SSLContext:
        ca = self._access.ca_file
        return ssl.create_default_context(cafile=str(ca) if ca else None)

    def _smtp(self, message: EmailMessage, relay: SmtpRelay) -> None:
        where = f"{relay.host}:{relay.port}"
        try:
            with smtplib.SMTP(relay.host, relay.port, timeout=self.timeout_s) as smtp:
                if relay.starttls:
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if relay.user:
                    smtp.login(relay.user, self._access.password or "")
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"the SMTP relay refused the login of user {relay.user!r} "
                            f"({_answer(exc)}): check WEBHOOKS_SMTP_PASSWORD or "
                            "--smtp-password-file") from None
        except smtplib.SMTPNotSupportedError as exc:
            what = "STARTTLS" if "STARTTLS" in str(exc) else "AUTH"
            raise MailError(f"the SMTP relay {where} does not offer {what}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({str(code) for code, _ in exc.recipients.values()})
            raise MailError(f"the SMTP relay refused the recipient ({', '.join(codes)})") from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"the SMTP relay answered {_answer(exc)}".rstrip()) from None
        except ssl.SSLError as exc:
            reason = getattr(exc, "verify_message", None) or exc.reason or type(exc).__name__
            raise MailError(f"TLS with the SMTP relay {where} failed: {reason}") from None
        except (smtplib.SMTPException, OSError) as exc:  # SMTPException is an OSError
            if isinstance(exc, TimeoutError | socket.timeout):
                raise MailError(f"the SMTP relay timed out after {self.timeout_s:g} s") from None
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            if isinstance(exc, smtplib.SMTPException) \
                    and not isinstance(exc, smtplib.SMTPServerDisconnected):
                raise MailError(f"SMTP with the relay {where} failed: {reason}") from None
            raise MailError(f"cannot reach the SMTP relay {where}: {reason}") from None

    def _file(self, message: EmailMessage, folder: Path) -> str:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.eml"
        path = folder / name
        try:
            private_files.make_folder(folder)  # 0700, and each message 0600
            tmp = folder / f".{name}.tmp"
            private_files.write_file(tmp, bytes(message))
            os.replace(tmp, path)  # readers never see half a message
        except OSError as exc:
            raise MailError(f"cannot write to the outbox {folder}: {exc.strerror}") from None
        return f"written to {path}"


def _answer(exc: smtplib.SMTPResponseException) -> str:
    """``535 5.7.8 Authentication failed``: the relay's code and first line."""
    raw = exc.smtp_error
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    first = text.splitlines()[0][:200] if text else ""
    return f"{exc.smtp_code} {first}".rstrip()


# paymentStatus as the end of a subject line ("MB WAY purchase succeeded: ...")
_OUTCOMES = {"Success": "succeeded", "Pending": "pending", "InProcessing": "in processing",
             "Declined": "declined", "Error": "failed", "Timeout": "timed out"}


def notification_email(notification: Mapping[str, Any], *, to: str, webhook_name: str,
                       merchant_name: str) -> EmailMessage:
    """A readable e-mail for one notification, with the JSON at the end (tokens masked:
    an inbox is no place for them)."""
    what = kinds.label(notification)
    merchant = notification.get("merchant") or {}
    test = " [test]" if notification.get("test") else ""
    amount = kinds.money(notification.get("amount"))
    message = EmailMessage()
    message["To"] = to
    status = notification.get("paymentStatus")
    outcome = _OUTCOMES.get(str(status), f"status {status}")
    # "MB WAY purchase succeeded: 12.50 EUR (terminal 10001)"
    message["Subject"] = (f"{what} {outcome}: {amount} "
                          f"(terminal {merchant.get('terminalId')}){test}")
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid("notification")
    message["X-Notification-ID"] = str(notification.get("notificationID"))
    rows = [
        ("Notification", f"{what} ({kinds.kind(notification)})"),
        ("Payment status", notification.get("paymentStatus")),
        ("Payment method", notification.get("paymentMethod")),
        ("Payment type", notification.get("paymentType")),
        ("Amount", amount),
        ("Terminal", merchant.get("terminalId")),
        ("Transaction ID", notification.get("transactionID")),
        ("Merchant transaction ID", merchant.get("transactionId")),
        ("Date and time", notification.get("transactionDateTime")),
        ("Notification ID", notification.get("notificationID")),
    ]
    rows += [("Details", fact) for fact in kinds.details(notification)]
    if notification.get("test"):
        rows.append(("Test", "yes: a test notification, not a real payment"))
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"A payment notification for {merchant_name}, sent by webhook {webhook_name}.", ""]
    lines += [f"{name + ':':<{width}}{value}" for name, value in rows]
    lines += ["", "The notification as JSON:", "",
              json.dumps(kinds.masked(notification), indent=2, ensure_ascii=False), ""]
    message.set_content("\n".join(lines))
    return message

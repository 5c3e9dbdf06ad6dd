"""``standard-webhooks``: the Standard Webhooks specification v1, signed with HMAC.

The body is the specification's envelope around the notification: ``type`` (its kind,
``mbway.purchase``: see ``contract.kinds``), ``timestamp`` (ISO-8601, the moment it was
sent) and ``data`` (the notification, the same JSON a sibs webhook decrypts).
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64
HMAC-SHA256 of ``id.timestamp.body``; during a secret's rotation, one such signature per
valid secret, space-separated) travel in headers. The secret is ``whsec_`` + the
standard base64 of 24 to 64 bytes. Any 2xx acknowledges: unlike ``sibs``, an answer
cannot prove the receiver holds the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from contract import kinds
from contract.formats.base import (
    FormatError,
    Headers,
    b64_canonical,
    b64decode,
    header,
    json_object,
    to_json_bytes,
)

NAME: Final = "standard-webhooks"
PREFIX: Final = "whsec_"
CONTENT_TYPE: Final = "application/json"
DEFAULT_TOLERANCE_S: Final = 300
MIN_KEY_BYTES: Final = 24
MAX_KEY_BYTES: Final = 64
SECRET_RULE: Final = ("a standard-webhooks secret must be 'whsec_' followed by the "
                      "standard base64 of 24 to 64 bytes")


def secret_problem(secret: str, subject: str = "the secret") -> str | None:
    """Why ``secret`` is not a Standard Webhooks key, naming it only as ``subject``."""
    if not secret.startswith(PREFIX):
        return f"{SECRET_RULE}: {subject} does not start with 'whsec_'"
    raw = b64_canonical(secret[len(PREFIX):])
    if raw is None:
        return f"{SECRET_RULE}: {subject} is not standard base64 in canonical form after 'whsec_'"
    if not MIN_KEY_BYTES <= len(raw) <= MAX_KEY_BYTES:
        return f"{SECRET_RULE}: {subject} decodes to {len(raw)} bytes"
    return None


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret."""
    if not secret.startswith(PREFIX):
        raise FormatError("a standard-webhooks secret starts with 'whsec_'")
    return b64decode(secret[len(PREFIX):], "the standard-webhooks secret")


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` (the spec's signature)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(notification: Mapping[str, Any], secret: str, *, msg_id: str,
         timestamp: int, also: Sequence[str] = ()) -> tuple[Headers, bytes]:
    """Sign a notification as a Standard Webhooks message: (headers, JSON body).

    ``also``: more secrets to sign with (a rotation's previous secret): the spec lets
    ``webhook-signature`` carry several space-separated signatures, and a receiver
    accepts the message when any one of them verifies with its secret.
    """
    body = to_json_bytes(notification)
    signatures = [signature(key, msg_id, timestamp, body) for key in (secret, *also)]
    headers = {
        "Content-Type": CONTENT_TYPE,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(dict.fromkeys(signatures)),
    }
    return headers, body


def verify(headers: Mapping[str, str], body: bytes, secret: str, *,
           tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None) -> dict[str, Any]:
    """Verify a message (signature and timestamp) and return its JSON."""
    msg_id = header(headers, "webhook-id")
    stamp = header(headers, "webhook-timestamp").strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise FormatError("webhook-timestamp is not unix seconds")
    timestamp = int(stamp)
    moment = time.time() if now is None else now
    if abs(moment - timestamp) > tolerance_s:
        raise FormatError(f"webhook-timestamp is more than {tolerance_s} s away from now "
                          "(a replay, or a clock out of sync)")
    expected = signature(secret, msg_id, timestamp, body).encode("ascii")
    offered = header(headers, "webhook-signature").split()
    if not any(hmac.compare_digest(expected, sig.encode("ascii", "replace")) for sig in offered):
        raise FormatError("no webhook-signature matches this secret "
                          "(wrong secret, or the message was altered)")
    return json_object(body, "the body")


def envelope(notification: Mapping[str, Any], timestamp: int) -> dict[str, Any]:
    """The specification's payload structure around a notification."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return {"type": kinds.kind(notification),
            "timestamp": f"{moment:%Y-%m-%dT%H:%M:%S}Z", "data": dict(notification)}


def opened(message: Mapping[str, Any]) -> dict[str, Any]:
    """The notification inside an envelope; FormatError when it is not one."""
    data = message.get("data")
    if not isinstance(message.get("type"), str) or not isinstance(data, dict):
        raise FormatError("the body is not a Standard Webhooks envelope "
                          "(type, timestamp and a data object)")
    return data


def acknowledged(status: int) -> tuple[bool, str]:
    """Any 2xx acknowledges a Standard Webhooks message."""
    if 200 <= status < 300:
        return True, "acknowledged"
    return False, f"HTTP {status}: a standard-webhooks receiver acknowledges with 2xx"


class StandardWebhooks:
    """The registry's face of this module."""

    name = NAME
    several_keys = True  # webhook-signature takes several space-separated signatures
    description = ("the Standard Webhooks specification v1: a JSON body signed with "
                   "HMAC-SHA256; any 2xx acknowledges")

    def secret_problem(self, secret: str, subject: str = "the secret") -> str | None:
        return secret_problem(secret, subject)

    def generate_secret(self) -> str:
        return generate_secret()

    def key_bytes(self, secret: str) -> bytes:
        return key(secret)

    def owns_secret(self, secret: str) -> bool:
        return secret.startswith(PREFIX)

    def encode(self, notification: Mapping[str, Any], secret: str, *, message_id: str,
               timestamp: int, also: Sequence[str] = ()) -> tuple[Headers, bytes]:
        return sign(envelope(notification, timestamp), secret, msg_id=message_id,
                    timestamp=timestamp, also=also)

    def acknowledged(self, status: int, body: bytes, notification_id: str) -> tuple[bool, str]:
        return acknowledged(status)

    def decode(self, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, Any]:
        return opened(verify(headers, body, secret))

    def reply(self, notification: Mapping[str, Any]) -> tuple[int, dict[str, Any] | None]:
        return 204, None


FORMAT: Final = StandardWebhooks()

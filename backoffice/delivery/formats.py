"""The two delivery formats, as pure functions both sides use.

``sibs``: the JSON is encrypted with AES-256-GCM under the webhook secret (base64 of a
32-byte key), a fresh random 12-byte IV per message; the body is the base64 ciphertext
and the IV and tag travel in headers. The receiver acknowledges with HTTP 200 and a
JSON body echoing the notificationID.

``standard-webhooks``: the Standard Webhooks specification v1: the body is the JSON,
signed with HMAC-SHA256 over ``id.timestamp.body``; any 2xx is success.

The backoffice encodes and judges acknowledgements; ``webhooks listen`` decodes and verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

IV_BYTES: Final = 12
TAG_BYTES: Final = 16
SIBS_CONTENT_TYPE: Final = "text/plain"
STANDARD_CONTENT_TYPE: Final = "application/json"
SIBS_ACK_CODES: Final = ("200", "000")
WHSEC_PREFIX: Final = "whsec_"
DEFAULT_TOLERANCE_S: Final = 300

Headers = dict[str, str]


class FormatError(ValueError):
    """A delivery that does not decode or verify, or a secret that does not fit; the
    message says why and never quotes the secret."""


def to_json_bytes(notification: Mapping[str, Any]) -> bytes:
    """The JSON a notification travels as: compact, UTF-8."""
    return json.dumps(notification, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise FormatError(f"{what} is not valid base64") from None


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header by case-insensitive name (plain dicts and httpx.Headers alike)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    raise FormatError(f"the {name} header is missing")


def _object(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FormatError(f"{what} is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise FormatError(f"{what} is not a JSON object")
    return value


# --- sibs -----------------------------------------------------------------------------------


def sibs_key(secret: str) -> bytes:
    """The AES-256 key of a sibs secret (standard base64 of exactly 32 bytes)."""
    key = _b64decode(secret, "the sibs secret")
    if len(key) != 32:
        raise FormatError("the sibs secret must be the base64 of exactly 32 bytes")
    return key


def encode_sibs(notification: Mapping[str, Any], secret: str, *,
                iv: bytes | None = None) -> tuple[Headers, bytes]:
    """Encrypt a notification for a sibs receiver: (headers, base64 ciphertext body).

    ``iv`` is for test vectors only: reusing an IV with one key breaks GCM, so every
    delivery takes a fresh random one.
    """
    if iv is None:
        iv = os.urandom(IV_BYTES)
    if len(iv) != IV_BYTES:
        raise FormatError(f"the IV must be {IV_BYTES} bytes")
    sealed = AESGCM(sibs_key(secret)).encrypt(iv, to_json_bytes(notification), None)
    ciphertext, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    headers = {
        "Content-Type": SIBS_CONTENT_TYPE,
        "X-Initialization-Vector": base64.b64encode(iv).decode("ascii"),
        "X-Authentication-Tag": base64.b64encode(tag).decode("ascii"),
    }
    return headers, base64.b64encode(ciphertext)


def decode_sibs(headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, Any]:
    """Decrypt and authenticate a sibs delivery; FormatError when it does not open."""
    iv = _b64decode(_header(headers, "X-Initialization-Vector").strip(),
                    "X-Initialization-Vector")
    tag = _b64decode(_header(headers, "X-Authentication-Tag").strip(), "X-Authentication-Tag")
    if len(iv) != IV_BYTES:
        raise FormatError(f"X-Initialization-Vector must be {IV_BYTES} bytes, not {len(iv)}")
    if len(tag) != TAG_BYTES:
        raise FormatError(f"X-Authentication-Tag must be {TAG_BYTES} bytes, not {len(tag)}")
    try:
        text = body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise FormatError("the body is not base64 text") from None
    ciphertext = _b64decode(text, "the body")
    try:
        plain = AESGCM(sibs_key(secret)).decrypt(iv, ciphertext + tag, None)
    except InvalidTag:
        raise FormatError("the body does not decrypt with this secret "
                          "(wrong secret, or the message was altered)") from None
    return _object(plain, "the decrypted body")


def sibs_acknowledged(status: int, body: bytes, notification_id: str) -> tuple[bool, str]:
    """Whether a sibs receiver acknowledged: 200 and the JSON echoing the notificationID."""
    if status != 200:
        return False, f"HTTP {status}: a sibs receiver acknowledges with 200"
    try:
        ack = _object(body, "the response")
    except FormatError as exc:
        return False, f"{exc}: expected the JSON acknowledgement"
    if ack.get("notificationID") != notification_id:
        return False, "the acknowledgement's notificationID is not this notification's"
    if ack.get("statusMsg") != "Success":
        return False, f"the acknowledgement's statusMsg is {str(ack.get('statusMsg'))[:40]!r}, " \
                      "not 'Success'"
    if ack.get("statusCode") not in SIBS_ACK_CODES:
        return False, f"the acknowledgement's statusCode is {str(ack.get('statusCode'))[:40]!r}, " \
                      "not '200' or '000'"
    return True, "acknowledged"


def sibs_acknowledgement(notification_id: str) -> dict[str, str]:
    """The body a sibs receiver answers with (for receivers and tests)."""
    return {"statusCode": "200", "statusMsg": "Success", "notificationID": notification_id}


# --- standard-webhooks ----------------------------------------------------------------------


def standard_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret."""
    if not secret.startswith(WHSEC_PREFIX):
        raise FormatError("a standard-webhooks secret starts with 'whsec_'")
    return _b64decode(secret[len(WHSEC_PREFIX):], "the standard-webhooks secret")


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` (the spec's signature)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign_standard(notification: Mapping[str, Any], secret: str, *, msg_id: str,
                  timestamp: int) -> tuple[Headers, bytes]:
    """Sign a notification as a Standard Webhooks message: (headers, JSON body)."""
    body = to_json_bytes(notification)
    headers = {
        "Content-Type": STANDARD_CONTENT_TYPE,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    }
    return headers, body


def verify_standard(headers: Mapping[str, str], body: bytes, secret: str, *,
                    tolerance_s: int = DEFAULT_TOLERANCE_S,
                    now: float | None = None) -> dict[str, Any]:
    """Verify a Standard Webhooks message (signature and timestamp) and return its JSON."""
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp").strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise FormatError("webhook-timestamp is not unix seconds")
    timestamp = int(stamp)
    moment = time.time() if now is None else now
    if abs(moment - timestamp) > tolerance_s:
        raise FormatError(f"webhook-timestamp is more than {tolerance_s} s away from now "
                          "(a replay, or a clock out of sync)")
    expected = standard_signature(secret, msg_id, timestamp, body).encode("ascii")
    offered = _header(headers, "webhook-signature").split()
    if not any(hmac.compare_digest(expected, sig.encode("ascii", "replace")) for sig in offered):
        raise FormatError("no webhook-signature matches this secret "
                          "(wrong secret, or the message was altered)")
    return _object(body, "the body")


def standard_acknowledged(status: int) -> tuple[bool, str]:
    """Any 2xx acknowledges a Standard Webhooks message."""
    if 200 <= status < 300:
        return True, "acknowledged"
    return False, f"HTTP {status}: a standard-webhooks receiver acknowledges with 2xx"

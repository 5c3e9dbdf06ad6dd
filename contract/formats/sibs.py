"""``sibs``: the SIBS Payment Gateway's format, encrypted with AES-256-GCM.

The notification's JSON is encrypted under the webhook secret (standard base64 of a
32-byte key) with a fresh random 12-byte IV per message. The body is the base64
ciphertext; the IV and the tag travel base64 in ``X-Initialization-Vector`` and
``X-Authentication-Tag``. The receiver acknowledges with HTTP 200 and the JSON
``{"statusCode": "200", "statusMsg": "Success", "notificationID": <its id>}``
(``"000"`` is accepted as statusCode too): echoing the id proves it decrypted.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Final

from contract.formats.base import (
    FormatError,
    Headers,
    b64_canonical,
    b64decode,
    header,
    json_object,
    to_json_bytes,
)

NAME: Final = "sibs"
IV_BYTES: Final = 12
TAG_BYTES: Final = 16
KEY_BYTES: Final = 32
CONTENT_TYPE: Final = "text/plain"
ACK_CODES: Final = ("200", "000")
SECRET_RULE: Final = ("a sibs secret must be the standard base64 of exactly 32 bytes "
                      "(an AES-256 key: 44 characters ending in '=')")


def secret_problem(secret: str, subject: str = "the secret") -> str | None:
    """Why ``secret`` is not a sibs key, naming it only as ``subject``; or None."""
    raw = b64_canonical(secret)
    if raw is None:
        return f"{SECRET_RULE}: {subject} is not standard base64 in canonical form"
    if len(raw) != KEY_BYTES:
        return f"{SECRET_RULE}: {subject} decodes to {len(raw)} bytes"
    return None


def generate_secret() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def _cipher(secret: str) -> Any:
    """AES-256-GCM under the secret's key; imported on first use, so that commands that
    only name the formats (every command's ``--help``) do not load the crypto library."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key(secret))


def key(secret: str) -> bytes:
    """The AES-256 key of a sibs secret."""
    raw = b64decode(secret, "the sibs secret")
    if len(raw) != KEY_BYTES:
        raise FormatError("the sibs secret must be the base64 of exactly 32 bytes")
    return raw


def encode(notification: Mapping[str, Any], secret: str, *,
           iv: bytes | None = None) -> tuple[Headers, bytes]:
    """Encrypt a notification: (headers, base64 ciphertext body).

    ``iv`` is for test vectors only: reusing an IV with one key breaks GCM, so every
    delivery takes a fresh random one.
    """
    if iv is None:
        iv = os.urandom(IV_BYTES)
    if len(iv) != IV_BYTES:
        raise FormatError(f"the IV must be {IV_BYTES} bytes")
    sealed = _cipher(secret).encrypt(iv, to_json_bytes(notification), None)
    ciphertext, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    headers = {
        "Content-Type": CONTENT_TYPE,
        "X-Initialization-Vector": base64.b64encode(iv).decode("ascii"),
        "X-Authentication-Tag": base64.b64encode(tag).decode("ascii"),
    }
    return headers, base64.b64encode(ciphertext)


def decode(headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, Any]:
    """Decrypt and authenticate a delivery; FormatError when it does not open."""
    iv = b64decode(header(headers, "X-Initialization-Vector").strip(), "X-Initialization-Vector")
    tag = b64decode(header(headers, "X-Authentication-Tag").strip(), "X-Authentication-Tag")
    if len(iv) != IV_BYTES:
        raise FormatError(f"X-Initialization-Vector must be {IV_BYTES} bytes, not {len(iv)}")
    if len(tag) != TAG_BYTES:
        raise FormatError(f"X-Authentication-Tag must be {TAG_BYTES} bytes, not {len(tag)}")
    try:
        text = body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise FormatError("the body is not base64 text") from None
    ciphertext = b64decode(text, "the body")
    from cryptography.exceptions import InvalidTag

    try:
        plain = _cipher(secret).decrypt(iv, ciphertext + tag, None)
    except InvalidTag:
        raise FormatError("the body does not decrypt with this secret "
                          "(wrong secret, or the message was altered)") from None
    return json_object(plain, "the decrypted body")


def acknowledged(status: int, body: bytes, notification_id: str) -> tuple[bool, str]:
    """Whether the receiver acknowledged: 200 and the JSON echoing the notificationID."""
    if status != 200:
        return False, f"HTTP {status}: a sibs receiver acknowledges with 200"
    try:
        ack = json_object(body, "the response")
    except FormatError as exc:
        return False, f"{exc}: expected the JSON acknowledgement"
    if ack.get("notificationID") != notification_id:
        return False, "the acknowledgement's notificationID is not this notification's"
    if ack.get("statusMsg") != "Success":
        return False, (f"the acknowledgement's statusMsg is {str(ack.get('statusMsg'))[:40]!r}, "
                       "not 'Success'")
    if ack.get("statusCode") not in ACK_CODES:
        return False, (f"the acknowledgement's statusCode is "
                       f"{str(ack.get('statusCode'))[:40]!r}, not '200' or '000'")
    return True, "acknowledged"


def acknowledgement(notification_id: object) -> dict[str, Any]:
    """The body a receiver answers with."""
    return {"statusCode": "200", "statusMsg": "Success", "notificationID": notification_id}


class Sibs:
    """The registry's face of this module."""

    name = NAME
    several_keys = False  # one key encrypts the body
    description = ("AES-256-GCM encrypted body, IV and tag in headers; the receiver "
                   "echoes the notificationID (the SIBS gateway's format)")

    def secret_problem(self, secret: str, subject: str = "the secret") -> str | None:
        return secret_problem(secret, subject)

    def generate_secret(self) -> str:
        return generate_secret()

    def key_bytes(self, secret: str) -> bytes:
        return key(secret)

    def owns_secret(self, secret: str) -> bool:
        return not secret.startswith("whsec_")

    def encode(self, notification: Mapping[str, Any], secret: str, *, message_id: str,
               timestamp: int, also: Sequence[str] = ()) -> tuple[Headers, bytes]:
        return encode(notification, secret)

    def acknowledged(self, status: int, body: bytes, notification_id: str) -> tuple[bool, str]:
        return acknowledged(status, body, notification_id)

    def decode(self, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, Any]:
        return decode(headers, body, secret)

    def reply(self, notification: Mapping[str, Any]) -> tuple[int, dict[str, Any] | None]:
        return 200, acknowledgement(notification.get("notificationID"))


FORMAT: Final = Sibs()

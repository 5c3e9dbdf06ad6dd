"""What every delivery format is, and the helpers the formats share.

A format says how a notification travels to a URL webhook and what counts as its
acknowledgement; ``webhooks listen`` uses the same format to decode what arrives, so a
delivery it accepts is one a real receiver holding the same secret accepts.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Headers = dict[str, str]


class FormatError(ValueError):
    """A delivery that does not decode or verify, or a secret that does not fit; the
    message says why and never quotes the secret."""


class DeliveryFormat(Protocol):
    """One delivery format: how deliveries are protected, acknowledged and received."""

    name: str  # what configs, the API and ``--format`` write
    description: str  # one line for help texts and docs
    # Whether one delivery can prove several keys at once (signatures side by side), so
    # that during a secret's rotation a receiver holding either key accepts it. False:
    # one key at a time (an encrypted body), and the sender picks which.
    several_keys: bool

    def secret_problem(self, secret: str, subject: str = "the secret") -> str | None:
        """Why ``secret`` cannot be this format's key, naming it only as ``subject``."""

    def generate_secret(self) -> str:
        """A fresh random secret in this format's spelling."""

    def key_bytes(self, secret: str) -> bytes:
        """The key a secret that fits this format stands for (what its strength is
        judged on: ``contract.secrets``)."""

    def owns_secret(self, secret: str) -> bool:
        """Whether a secret is spelled for this format (to guess ``listen``'s format)."""

    def encode(self, notification: Mapping[str, Any], secret: str, *, message_id: str,
               timestamp: int, also: Sequence[str] = ()) -> tuple[Headers, bytes]:
        """The request a receiver gets: (headers, body). ``also``: more keys the delivery
        proves too, when ``several_keys`` (ignored otherwise)."""

    def acknowledged(self, status: int, body: bytes, notification_id: str) -> tuple[bool, str]:
        """Whether the receiver's answer acknowledges the delivery, and why (not)."""

    def decode(self, headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, Any]:
        """The notification in a delivery, decrypted or verified; FormatError if not."""

    def reply(self, notification: Mapping[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """What a receiver answers to acknowledge: (HTTP status, JSON body or None)."""


def to_json_bytes(notification: Mapping[str, Any]) -> bytes:
    """The JSON a notification travels as: compact, UTF-8."""
    return json.dumps(notification, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def b64_canonical(text: str) -> bytes | None:
    """Standard base64 in canonical form only, so one key has one spelling (and one
    fingerprint); None for anything else."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def b64decode(text: str, what: str) -> bytes:
    """Standard base64 (a header or body), or FormatError naming ``what``."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise FormatError(f"{what} is not valid base64") from None


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by case-insensitive name (plain dicts and httpx.Headers alike)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    raise FormatError(f"the {name} header is missing")


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """``body`` as a JSON object, or FormatError naming ``what``."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nesting
        raise FormatError(f"{what} is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise FormatError(f"{what} is not a JSON object")
    return value

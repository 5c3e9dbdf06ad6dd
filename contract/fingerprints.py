"""The published fingerprints both sides compute, shown in place of secret values.

A fingerprint tells two values apart and says nothing else, also of a weak value: it is
an HMAC under a key that only the backoffice and its authenticated clients hold, so a
plan, a plan file or an API answer alone allows no offline guessing.

- The key: each merchant's *fingerprint key*, 32 random bytes the backoffice generates
  for the merchant and keeps sealed under the server key. ``GET /v1/fingerprint-key``
  hands it to a client with a read token (standard base64), for comparing only.
- A secret: ``sha256:`` + the first 16 hex digits of
  HMAC-SHA256(key, ``webhooks-reconciler/secret/v2\\0`` + the secret as UTF-8).
- A URL with credentials (userinfo or a query string): ``sha256:`` + the first 16 hex
  digits of HMAC-SHA256(key, ``webhooks-reconciler/url/v2\\0`` + the URL in its
  canonical form (``contract.urls.canonical_url``: scheme and host lower-cased, the
  default port dropped, an empty path made ``/``) as UTF-8).

The two domains keep a secret's fingerprint from ever equalling a URL's. 64 bits tell
a merchant's few thousand values apart; a guess cannot be checked without the key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Final

from contract.urls import canonical_url

PREFIX: Final = "sha256:"
PATTERN: Final = r"sha256:[0-9a-f]{16}"
KEY_BYTES: Final = 32
_SECRET_DOMAIN: Final = b"webhooks-reconciler/secret/v2\x00"
_URL_DOMAIN: Final = b"webhooks-reconciler/url/v2\x00"


def decode_key(text: str) -> bytes:
    """A fingerprint key from its standard base64; ValueError (never quoting it) if it is
    not exactly 32 bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("the fingerprint key is not standard base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"the fingerprint key must be {KEY_BYTES} bytes")
    return raw


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


class Fingerprints:
    """The fingerprints of one merchant's values, under its fingerprint key.

    The key never shows: not in ``repr``, not in ``str``, and there is no accessor
    besides ``reveal_key`` (for the API answer that hands it to a client).
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ValueError(f"a fingerprint key is {KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "Fingerprints(key=<hidden>)"

    __str__ = __repr__

    def reveal_key(self) -> bytes:
        """The raw key: only for handing it to an authenticated client."""
        return self._key

    def secret(self, secret: str) -> str:
        """The fingerprint of a secret: enough to tell two apart, never to recover one."""
        return _mac(self._key, _SECRET_DOMAIN, secret)

    def url(self, url: str) -> str:
        """The fingerprint of a whole URL with credentials, in its canonical form."""
        return _mac(self._key, _URL_DOMAIN, canonical_url(url) or "")


def _mac(key: bytes, domain: bytes, value: str) -> str:
    return PREFIX + hmac.digest(key, domain + value.encode("utf-8"), "sha256")[:8].hex()

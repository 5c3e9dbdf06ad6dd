"""The public fingerprints both sides compute, shown in place of secret values.

- A secret: ``sha256:`` + the first 16 hex digits of
  SHA-256(``webhooks-reconciler/secret/v1\\0`` + secret).
- A URL with credentials: ``sha256:`` + the first 16 hex digits of
  PBKDF2-HMAC-SHA256(the whole URL as given, salt ``webhooks-reconciler/url/v1``,
  20,000 rounds); iterated because a URL password may be weak and the fingerprint is
  public (about 6 ms, paid only for URLs that carry credentials).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Final

PREFIX: Final = "sha256:"
PATTERN: Final = r"sha256:[0-9a-f]{16}"
_SECRET_DOMAIN: Final = b"webhooks-reconciler/secret/v1\x00"
_URL_SALT: Final = b"webhooks-reconciler/url/v1"
_URL_ROUNDS: Final = 20_000


def secret_fingerprint(secret: str) -> str:
    """The fingerprint of a secret: enough to tell two apart, never to recover one."""
    digest = hashlib.sha256(_SECRET_DOMAIN + secret.encode("utf-8")).hexdigest()
    return PREFIX + digest[:16]


@lru_cache(maxsize=1024)
def url_fingerprint(url: str) -> str:
    """The fingerprint of a whole URL with credentials, as it was given."""
    digest = hashlib.pbkdf2_hmac("sha256", url.encode("utf-8"), _URL_SALT, _URL_ROUNDS)
    return PREFIX + digest.hex()[:16]

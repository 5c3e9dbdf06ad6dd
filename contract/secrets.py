"""When a secret is weak: the one rule ``validate`` and the backoffice's API both apply.

A delivery secret must be a random key. A secret is *weak* when it does not fit its
format (malformed, or too short: ``contract.formats``), or when its key bytes (what the
format decodes it to) show that a person or a pattern made them rather than a random
generator:

- **text**: every byte is printable ASCII (0x20-0x7E): a phrase or password run
  through base64, not random bytes;
- **repeats**: fewer distinct byte values than half the key's length (``AAAA...`` is
  32 zero bytes);
- **sequence**: fewer distinct steps between neighbouring bytes than half the length
  (0, 1, 2, 3, ... or 32, 30, 28, ...: one step repeated);
- **published**: a secret printed in a specification or this project's documentation
  as an example (by fingerprint, below).

For a random key these never fire: 32 (or 24) random bytes are all printable with a
probability under 1e-10, and half of them repeating, or half the steps being equal, is
far rarer still (a property test generates thousands). ``weakness`` says which rule
fired, never quoting the secret. The backoffice refuses a weak secret when it is new or
changed (create, PATCH); plans warn about one already stored.

A changed secret keeps the one it replaces valid for a grace period (``DEFAULT_GRACE_S``,
at most ``MAX_GRACE_S``), so receivers can switch without missing a delivery.
"""

from __future__ import annotations

import hashlib
from typing import Final

from contract import formats


def _digest(secret: str) -> str:
    """A plain SHA-256 of a secret, only to recognise the published examples below (the
    published fingerprints are keyed per merchant, ``contract.fingerprints``)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# Digests of secrets printed as examples: the Standard Webhooks specification's test
# secret (its libraries' test suites use it too).
PUBLISHED: Final = frozenset({
    _digest("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
})
GENERATE_HINT: Final = "make a strong one with `webhooks secret generate --format {fmt}`"


def weakness(key: bytes) -> str | None:
    """Why these key bytes look made by a person or a pattern; None when they look random."""
    size = len(key)
    if size == 0:
        return "it is empty"
    if all(0x20 <= b <= 0x7E for b in key):
        return "it decodes to printable text (typed, not random bytes)"
    if len(set(key)) < size / 2:
        distinct = len(set(key))
        return (f"it decodes to {size} bytes with only {distinct} distinct "
                f"value{'' if distinct == 1 else 's'} "
                "(repeats, not random bytes)")
    steps = {(key[i + 1] - key[i]) % 256 for i in range(size - 1)}
    if len(steps) < size / 2:
        return "it decodes to a regular sequence of bytes (a pattern, not random bytes)"
    return None


def secret_problem(fmt: str, secret: str, subject: str = "the secret") -> str | None:
    """Why ``secret`` cannot be format ``fmt``'s key for a new or changed secret: it does
    not fit the format, or it is weak. Names it only as ``subject``; None when fine."""
    if problem := formats.secret_problem(fmt, secret, subject):
        return problem
    return weak_problem(fmt, secret, subject)


def weak_problem(fmt: str, secret: str, subject: str = "the secret") -> str | None:
    """Why a secret that fits format ``fmt`` is weak (see the module); None when strong."""
    delivery = formats.REGISTRY.get(fmt)
    if delivery is None or delivery.secret_problem(secret) is not None:
        return None  # not this rule's business: the format's rule speaks first
    if _digest(secret) in PUBLISHED:
        why: str | None = "it is an example secret, published in a specification"
    else:
        why = weakness(delivery.key_bytes(secret))
    if why is None:
        return None
    return f"{subject} is weak: {why}; {GENERATE_HINT.format(fmt=fmt)}"


def is_weak(fmt: str, secret: str) -> bool:
    """Whether a secret that fits its format is weak (for the flag stored with it)."""
    return weak_problem(fmt, secret) is not None


# --- rotation: how long a replaced secret stays valid ----------------------------------------

DEFAULT_GRACE_S: Final = 86_400  # a day: a receiver's team has that long to switch
MAX_GRACE_S: Final = 30 * 86_400  # a retired key should not live on for months
GRACE_RULE: Final = "a grace period is 0 s to 30 days, e.g. 0, 12h, 1d, 7d"

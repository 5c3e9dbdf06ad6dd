"""A secret's rotation: the previous secret stays valid for a grace period.

When a webhook's secret changes (a PATCH with a new secret, or ``secret:rotate``), the
secret it replaces is kept, sealed, until the grace ends (the backoffice's clock: now +
the grace asked for, ``contract.secrets.DEFAULT_GRACE_S`` by default). Meanwhile:

- a format that proves several keys at once (Standard Webhooks: signatures side by side
  in ``webhook-signature``) signs every delivery with both, so a receiver holding either
  secret verifies it;
- a format with one key at a time (SIBS: the body is encrypted) keeps encrypting with
  the previous secret, which the receiver holds, until a test-fire with the new one is
  acknowledged (the receiver decrypted it and echoed its id) or the grace ends; then it
  uses the new one. Test-fires always use the new one.

A format change drops the previous secret (a receiver must change its code for a new
format anyway), and so does a grace of 0. After the grace the API stops showing the
previous secret's fingerprint, deliveries stop using it, and the worker forgets it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from backoffice.clock import iso
from backoffice.db.webhook_queries import WebhookRecord
from backoffice.sealing import Sealing
from contract import formats

NO_PREVIOUS: dict[str, Any] = {
    "previous_secret_sealed": None, "previous_secret_fingerprint": None,
    "previous_secret_until": None, "secret_acknowledged": None,
}


def in_grace(until: str | None, now: str) -> bool:
    """Whether a previous secret valid until ``until`` is valid at ``now`` (both ISO)."""
    return until is not None and until > now


def rotated(sealing: Sealing, record: WebhookRecord, *, secret: str, fingerprint: str,
            new_format: str | None, grace_s: int, moment: datetime) -> dict[str, Any]:
    """The columns that install ``secret`` in place of the record's, keeping the
    replaced one valid for ``grace_s`` seconds (none: for a grace of 0, a format change,
    or a webhook that had no secret)."""
    values: dict[str, Any] = {
        "secret_sealed": sealing.seal_secret(record.id, secret),
        "secret_fingerprint": fingerprint, "secret_weak": False, **NO_PREVIOUS,
    }
    current = sealing.webhook_secret(record)
    if current is None or grace_s <= 0 or new_format != record.format:
        return values
    values.update(
        previous_secret_sealed=sealing.seal_previous(record.id, current),
        previous_secret_fingerprint=record.secret_fingerprint,
        previous_secret_until=iso(moment + timedelta(seconds=grace_s)),
        secret_acknowledged=False,
    )
    return values


def delivery_secret(fmt: str | None, grace: bool, acknowledged: bool | None) -> str | None:
    """Which secret deliveries use now: ``current``, ``previous`` or ``both`` (None for
    an e-mail webhook)."""
    if fmt is None:
        return None
    if not grace:
        return "current"
    found = formats.REGISTRY.get(fmt)
    if found is not None and found.several_keys:
        return "both"
    return "current" if acknowledged else "previous"


def public_fields(fmt: str | None, weak: bool | None, previous_fingerprint: str | None,
                  until: str | None, acknowledged: bool | None, now: str) -> dict[str, Any]:
    """What the API shows of a rotation: the previous fingerprint and its end while it
    is valid, and which secret deliveries use."""
    grace = previous_fingerprint is not None and in_grace(until, now)
    return {
        "secret_weak": bool(weak),
        "previous_secret_fingerprint": previous_fingerprint if grace else None,
        "previous_secret_valid_until": until if grace else None,
        "delivery_secret": delivery_secret(fmt, grace, acknowledged),
    }


def delivery_keys(sealing: Sealing, record: WebhookRecord, now: str, *,
                  test: bool) -> tuple[str | None, tuple[str, ...]]:
    """The key a delivery uses now and the others it proves too (``encode``'s ``also``).

    A test-fire uses the current key (a sibs test that is acknowledged proves the
    receiver holds it); other deliveries follow ``delivery_secret``."""
    current = sealing.webhook_secret(record)
    if current is None or not in_grace(record.previous_secret_until, now):
        return current, ()
    previous = sealing.previous_secret(record)
    found = formats.REGISTRY.get(record.format or formats.DEFAULT)
    if previous is None or found is None:
        return current, ()
    if found.several_keys:
        return current, (previous,)
    if test or record.secret_acknowledged:
        return current, ()
    return previous, ()


def awaits_acknowledgement(record: WebhookRecord, now: str) -> bool:
    """Whether a test-fire acknowledged now would switch sibs deliveries to the new key."""
    found = formats.REGISTRY.get(record.format or formats.DEFAULT)
    return (in_grace(record.previous_secret_until, now) and not record.secret_acknowledged
            and found is not None and not found.several_keys)

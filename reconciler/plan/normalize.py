"""One canonical form for both sides of the plan, so that equal webhooks compare equal.

The config and the backoffice may spell the same webhook differently: notification
lists in another order or with repeats, ``HTTPS://API.Shop.example:443`` for
``https://api.shop.example/``, ``None`` for ``""``. Both sides go through the
functions here into a flat ``State`` tuple; the planner compares those with ``==``
(cheap, done in C) and explains only the pairs that differ.

URLs are parsed by hand rather than with ``urllib.parse.urlsplit`` (``contract.urls``:
the backoffice fingerprints URLs in the same canonical form): the split is simple for
the http(s) URLs a webhook can have, and the common, already canonical URL is recognised
by one regex match, several times faster than ``urlsplit``; that matters when 10,000
unchanged pairs must plan in a few tens of milliseconds.

Secrets, and URLs with credentials, are compared by their fingerprints under the
merchant's fingerprint key (``contract.fingerprints``), which the provider fetches once
per run: the desired side is fingerprinted here with the same key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from contract.fingerprints import Fingerprints
from contract.urls import canonical_url, has_credentials, redact_url
from reconciler.model import (
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    LABEL_PREVENT_DESTROY,
    MANAGER,
    RemoteWebhook,
    WebhookSpec,
)

# The compared fields, in the order plans show them. ``type`` is compared too, but a
# type change is a replace, not a field update. ``managed_by`` and ``owner`` are the
# reconciler's labels; other labels on a webhook belong to someone else and are kept.
FIELDS: tuple[str, ...] = (
    "type",
    "url",
    "email",
    "application",
    "notifications",
    "support_email",
    "format",
    "enabled",
    "description",
    "secret",
    "prevent_destroy",
    "managed_by",
    "owner",
)

State = tuple[object, ...]
"""A webhook in canonical form: one value per FIELDS entry (``secret`` is a fingerprint,
``url`` a ``CredentialUrl`` when the URL has credentials).

A tuple rather than a dict: building and comparing it is several times cheaper, and
unchanged pairs (the common case) are only ever built and compared.
"""
TYPE = FIELDS.index("type")



def as_dict(state: State) -> dict[str, object]:
    """The state keyed by field name, for explaining a difference."""
    return dict(zip(FIELDS, state, strict=True))


normalize_url = canonical_url
"""Scheme and host lower-cased, the default port dropped, an empty path made ``/``
(``contract.urls.canonical_url``)."""


@dataclass(frozen=True)
class CredentialUrl:
    """A URL with credentials (a user part or a query string), as both sides can know
    it: redacted (then normalised), and the keyed fingerprint of the whole URL.

    The backoffice never returns such a URL whole: it returns it redacted, with
    ``url_fingerprint`` computed under the same key over the same canonical form. So a
    changed password or query shows as a change of fingerprint, and an unchanged URL
    (however its scheme and host are spelt) as none.
    """

    redacted: str
    fingerprint: str


def credential_url(url: str, fingerprints: Fingerprints) -> CredentialUrl:
    """The config's side of a URL with credentials (the whole URL is at hand)."""
    return CredentialUrl(normalize_url(redact_url(url)) or "", fingerprints.url(url))


def _desired_url(url: str | None, fingerprints: Fingerprints) -> str | CredentialUrl | None:
    if url is not None and has_credentials(url):
        return credential_url(url, fingerprints)
    return normalize_url(url)


def _actual_url(url: str | None, fingerprint: str | None,
                fingerprints: Fingerprints) -> str | CredentialUrl | None:
    if url is not None and fingerprint is not None:
        return CredentialUrl(normalize_url(url) or "", fingerprint)
    # A backoffice that returns the URL whole (an older one, or a test's stand-in).
    return _desired_url(url, fingerprints)


def normalize_email(address: str | None) -> str | None:
    """Domain lower-cased (the local part is the receiver's business); blank is None."""
    if not address:
        return None
    if address.islower() and not address[0].isspace() and not address[-1].isspace():
        return address  # the common case
    address = address.strip()
    if not address:
        return None
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    lowered = domain.lower()
    return address if lowered == domain else f"{local}@{lowered}"


def normalize_notifications(items: Iterable[str]) -> tuple[str, ...]:
    """A set, as a sorted tuple."""
    return tuple(sorted(set(items)))


def desired_state(spec: WebhookSpec, owner: str, fingerprints: Fingerprints, *,
                  current_secret: str | None = None) -> State:
    """The config's side. A spec without a secret value keeps ``current_secret`` as it is."""
    secret = spec.secret
    fingerprint = secret.fingerprint(fingerprints) if secret is not None else None
    return (  # in FIELDS order
        spec.type,
        _desired_url(spec.url, fingerprints),
        normalize_email(spec.email),
        spec.application.strip(),
        normalize_notifications(spec.notifications),
        normalize_email(spec.support_email),
        (spec.format or "sibs") if spec.type == "url" else None,  # e-mail has no format
        bool(spec.enabled),
        spec.description or "",
        fingerprint if fingerprint is not None else current_secret,
        bool(spec.prevent_destroy),
        MANAGER,
        owner,
    )


def actual_state(remote: RemoteWebhook, fingerprints: Fingerprints) -> State:
    """The backoffice's side."""
    labels = remote.labels
    return (  # in FIELDS order
        remote.type,
        _actual_url(remote.url, remote.url_fingerprint, fingerprints),
        normalize_email(remote.email),
        remote.application.strip(),
        normalize_notifications(remote.notifications),
        normalize_email(remote.support_email),
        (remote.format or "sibs") if remote.type == "url" else None,
        bool(remote.enabled),
        remote.description or "",
        remote.secret_fingerprint or None,
        # Only "true" protects; any other value reads as absent, so it is no diff.
        labels.get(LABEL_PREVENT_DESTROY) == "true",
        labels.get(LABEL_MANAGED_BY) or None,
        labels.get(LABEL_OWNER) or None,
    )


def desired_labels(
    owner: str, prevent_destroy: bool, existing: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The full label map to send: others' labels kept, the reconciler's set as wanted.

    A PATCH replaces the whole map, so apply sends this rather than the three keys alone.
    """
    labels = {
        k: v
        for k, v in (existing or {}).items()
        if k not in (LABEL_MANAGED_BY, LABEL_OWNER, LABEL_PREVENT_DESTROY)
    }
    labels[LABEL_MANAGED_BY] = MANAGER
    labels[LABEL_OWNER] = owner
    if prevent_destroy:
        labels[LABEL_PREVENT_DESTROY] = "true"
    return labels

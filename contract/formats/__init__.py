"""The delivery formats: one module each, and the registry every other part reads.

The CLI's ``--format`` choices, the config's JSON Schema enum (held to this by a test),
the API's types, the sender, ``webhooks listen`` and the docs all take the formats
from ``REGISTRY``. Adding a format is one module with a ``FORMAT`` object that meets
``DeliveryFormat``, and one line below.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from contract.formats import sibs, standard_webhooks
from contract.formats.base import DeliveryFormat, FormatError, Headers, to_json_bytes

__all__ = ["DEFAULT", "NAMES", "REGISTRY", "DeliveryFormat", "FormatError", "Headers",
           "get", "guess", "secret_problem", "to_json_bytes"]

REGISTRY: Final[Mapping[str, DeliveryFormat]] = MappingProxyType({
    sibs.FORMAT.name: sibs.FORMAT,
    standard_webhooks.FORMAT.name: standard_webhooks.FORMAT,
})
NAMES: Final[tuple[str, ...]] = tuple(REGISTRY)
DEFAULT: Final = sibs.NAME


def get(name: str) -> DeliveryFormat:
    """The format called ``name``; KeyError for an unknown one (callers check first)."""
    return REGISTRY[name]


def secret_problem(name: str, secret: str, subject: str = "the secret") -> str | None:
    """Why ``secret`` does not fit format ``name`` (never quoting it), or None."""
    found = REGISTRY.get(name)
    if found is None:
        return f"unknown format {name[:40]!r}; the formats are: {', '.join(NAMES)}"
    return found.secret_problem(secret, subject)


def guess(secret: str) -> DeliveryFormat:
    """The format a secret is spelled for (``whsec_...`` is Standard Webhooks)."""
    for candidate in REGISTRY.values():
        if candidate is not REGISTRY[DEFAULT] and candidate.owns_secret(secret):
            return candidate
    return REGISTRY[DEFAULT]

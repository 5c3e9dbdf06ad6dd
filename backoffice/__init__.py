"""The reference webhooks backoffice (SIBS Payment Gateway Backoffice, "Webhooks" menu).

In-process: ``Backoffice.open(db_url)``; over HTTP: ``backoffice.http.api.create_app``.

The names below are imported on first use, not with the package: ``webhooks listen``
imports ``backoffice.errors`` (and ``contract``), and must not pay for
SQLAlchemy or FastAPI to do it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backoffice.auth import Principal
    from backoffice.errors import BackofficeError
    from backoffice.facade import Backoffice
    from backoffice.webhooks import Page
    from contract.fingerprints import Fingerprints

__all__ = ["Backoffice", "BackofficeError", "Fingerprints", "Page", "Principal"]

_HOMES = {
    "Backoffice": "backoffice.facade",
    "BackofficeError": "backoffice.errors",
    "Page": "backoffice.webhooks",
    "Principal": "backoffice.auth",
    "Fingerprints": "contract.fingerprints",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'backoffice' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup skips this function
    return value

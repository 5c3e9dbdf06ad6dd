"""The reference webhooks backoffice (SIBS Payment Gateway Backoffice, "Webhooks" menu).

In-process: ``Backoffice.open(db_url)``; over HTTP: ``backoffice.api.create_app``.
"""

from __future__ import annotations

from backoffice.auth import Principal
from backoffice.errors import BackofficeError
from backoffice.service import Backoffice, Page
from contract.fingerprints import secret_fingerprint

__all__ = ["Backoffice", "BackofficeError", "Page", "Principal", "secret_fingerprint"]

"""The reference webhooks backoffice (SIBS Payment Gateway Backoffice, "Webhooks" menu).

In-process: ``Backoffice.open(db_url)``; over HTTP: ``backoffice.api.create_app``.
"""

from __future__ import annotations

from backoffice.auth import Principal
from backoffice.crypto import secret_fingerprint
from backoffice.errors import BackofficeError
from backoffice.service import Backoffice, Page

__all__ = ["Backoffice", "BackofficeError", "Page", "Principal", "secret_fingerprint"]

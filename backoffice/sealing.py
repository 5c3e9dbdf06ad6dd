"""What the database keeps sealed under the server key: webhook secrets (and, during a
rotation's grace, the previous one), URLs with credentials (userinfo or a query string)
and each merchant's fingerprint key. Sealing them (writes, the upgrades) and opening them
(deliveries, fingerprints) happen here, so every other part handles sealed bytes it
cannot read.

``SEALED_COLUMNS`` lists every sealed column with the associated data its values are
bound to: ``webhooks backoffice rotate-key`` re-seals exactly these, and a test holds
the list to the schema (every binary column is one of them).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table

from backoffice.crypto import SecretBox
from backoffice.db import merchant_queries as mq
from backoffice.db import tables as t
from backoffice.db.webhook_queries import WebhookRecord
from backoffice.errors import NotFound, SetupError
from contract.fingerprints import KEY_BYTES, Fingerprints, decode_key, encode_key
from contract.urls import has_credentials as url_has_credentials
from contract.urls import redact_url


def url_context(webhook_id: str) -> str:
    """The sealed URL's associated data: bound to its webhook, and never a secret's."""
    return f"{webhook_id}#url"


def previous_context(webhook_id: str) -> str:
    """The sealed previous secret's associated data: bound to its webhook and its place."""
    return f"{webhook_id}#previous"


def fingerprint_key_context(merchant_id: str) -> str:
    """A fingerprint key's associated data: bound to its merchant (a merchant id never
    holds '#', so it is never a webhook's)."""
    return f"merchant:{merchant_id}#fingerprint-key"


@dataclass(frozen=True)
class SealedColumn:
    """One sealed column: its table, the row's key, and the associated data of a row's
    value (from the ``context_from`` column)."""

    table: Table
    column: str
    key: str
    context_from: str
    context: Callable[[str], str]

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn(t.webhooks, "secret_sealed", "pk", "id", lambda webhook_id: webhook_id),
    SealedColumn(t.webhooks, "url_sealed", "pk", "id", url_context),
    SealedColumn(t.webhooks, "previous_secret_sealed", "pk", "id", previous_context),
    SealedColumn(t.merchants, "fingerprint_key_sealed", "id", "id", fingerprint_key_context),
)


class Sealing:
    """The server key's box, bound to row ids: a sealed value moved to another row does
    not open."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box
        # merchant id -> the fingerprints its key opens to, kept for the life of the
        # process: a merchant's fingerprint key is made with the merchant (or by the
        # upgrade that adds one where there is none) and never changes after;
        # ``rotate-key`` seals the same key again under a new server key. Merchants are never
        # deleted, so a kept key also proves that its merchant exists.
        self._fingerprints: dict[str, Fingerprints] = {}
        self._lock = threading.Lock()

    @property
    def key_id(self) -> str:
        """The sealing key's id, which the database records to refuse another key."""
        return self.box.key_id

    def seal_secret(self, webhook_id: str, secret: str) -> bytes:
        return self.box.seal(secret, context=webhook_id)

    def open_secret(self, webhook_id: str, sealed: bytes) -> str:
        return self.box.open(sealed, context=webhook_id)

    def url_values(self, webhook_id: str, url: str | None,
                   fingerprints: Fingerprints) -> dict[str, Any]:
        """The stored URL columns: a URL with credentials is kept redacted, and sealed whole."""
        if url is None or not url_has_credentials(url):
            return {"url": url, "url_sealed": None, "url_fingerprint": None}
        return {"url": redact_url(url),
                "url_sealed": self.box.seal(url, context=url_context(webhook_id)),
                "url_fingerprint": fingerprints.url(url)}

    def delivery_url(self, record: WebhookRecord) -> str | None:
        """The whole URL, credentials included, for deliveries only: never for a
        response or a log."""
        if record.url_sealed is None:
            return record.url
        return self.box.open(record.url_sealed, context=url_context(record.id))

    def webhook_secret(self, record: WebhookRecord) -> str | None:
        """The plain secret, for deliveries, and for ``WebhookSecrets.reveal`` (the one
        response that shows it, recorded in the audit log); never for a log."""
        if record.secret_sealed is None:
            return None
        return self.open_secret(record.id, record.secret_sealed)

    # --- fingerprint keys ------------------------------------------------------------------

    def new_fingerprint_key(self, merchant_id: str) -> bytes:
        """A new random fingerprint key for the merchant, sealed."""
        key = secrets.token_bytes(KEY_BYTES)
        return self.box.seal(encode_key(key), context=fingerprint_key_context(merchant_id))

    def open_fingerprint_key(self, merchant_id: str, sealed: bytes) -> Fingerprints:
        text = self.box.open(sealed, context=fingerprint_key_context(merchant_id))
        try:
            return Fingerprints(decode_key(text))
        except ValueError:
            raise SetupError(f"merchant {merchant_id!r} has a malformed fingerprint key") from None

    def kept_fingerprints(self, merchant_id: str) -> Fingerprints | None:
        """The merchant's fingerprints if this process has read its key already."""
        return self._fingerprints.get(merchant_id)

    def fingerprints(self, conn: Connection, merchant_id: str) -> Fingerprints:
        """The merchant's fingerprints (NotFound for no such merchant); read from the
        database the first time only."""
        kept = self._fingerprints.get(merchant_id)
        if kept is not None:
            return kept
        sealed = mq.fingerprint_key(conn, merchant_id)
        if sealed is None:
            if not mq.merchant_exists(conn, merchant_id):
                raise NotFound(f"no merchant {merchant_id!r}")
            raise SetupError(f"merchant {merchant_id!r} has no fingerprint key: "
                             "open the database once with this version to upgrade it")
        opened = self.open_fingerprint_key(merchant_id, sealed)
        with self._lock:
            self._fingerprints[merchant_id] = opened
        return opened

    def seal_previous(self, webhook_id: str, secret: str) -> bytes:
        return self.box.seal(secret, context=previous_context(webhook_id))

    def previous_secret(self, record: WebhookRecord) -> str | None:
        """The secret the current one replaced, for deliveries during the grace only."""
        if record.previous_secret_sealed is None:
            return None
        return self.box.open(record.previous_secret_sealed,
                             context=previous_context(record.id))

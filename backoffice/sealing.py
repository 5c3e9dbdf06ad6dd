"""What the database keeps sealed under the server key: webhook secrets (and, during a
rotation's grace, the previous one) and URLs with credentials. Sealing them (writes, the
version 3 upgrade) and opening them (deliveries only) happen here, so every other part
handles sealed bytes it cannot read."""

from __future__ import annotations

from typing import Any

from backoffice.crypto import SecretBox
from backoffice.db.webhook_queries import WebhookRecord
from contract.fingerprints import url_fingerprint
from contract.urls import has_credentials as url_has_credentials
from contract.urls import redact_url


def url_context(webhook_id: str) -> str:
    """The sealed URL's associated data: bound to its webhook, and never a secret's."""
    return f"{webhook_id}#url"


def previous_context(webhook_id: str) -> str:
    """The sealed previous secret's associated data: bound to its webhook and its place."""
    return f"{webhook_id}#previous"


class Sealing:
    """The server key's box, bound to webhook ids: a sealed value moved to another
    webhook's row does not open."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box

    @property
    def key_id(self) -> str:
        """The server key's id, which the database records to refuse another key."""
        return self.box.key_id

    def seal_secret(self, webhook_id: str, secret: str) -> bytes:
        return self.box.seal(secret, context=webhook_id)

    def open_secret(self, webhook_id: str, sealed: bytes) -> str:
        return self.box.open(sealed, context=webhook_id)

    def url_values(self, webhook_id: str, url: str | None) -> dict[str, Any]:
        """The stored URL columns: a URL with credentials is kept redacted, and sealed whole."""
        if url is None or not url_has_credentials(url):
            return {"url": url, "url_sealed": None, "url_fingerprint": None}
        return {"url": redact_url(url),
                "url_sealed": self.box.seal(url, context=url_context(webhook_id)),
                "url_fingerprint": url_fingerprint(url)}

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

    def seal_previous(self, webhook_id: str, secret: str) -> bytes:
        return self.box.seal(secret, context=previous_context(webhook_id))

    def previous_secret(self, record: WebhookRecord) -> str | None:
        """The secret the current one replaced, for deliveries during the grace only."""
        if record.previous_secret_sealed is None:
            return None
        return self.box.open(record.previous_secret_sealed,
                             context=previous_context(record.id))

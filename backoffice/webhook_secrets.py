"""Webhook secrets given back to the people who may see them: ``reveal``.

A secret is write-only everywhere else (responses carry its fingerprint). Revealing it
needs the reveal scope (``backoffice.auth``), and each reveal is an entry of the audit
log, written in the same transaction as the secret is read: a secret is never shown
without its entry. The entry names the webhook and the field, never the value.
"""

from __future__ import annotations

from typing import Any

from backoffice import audit, auth
from backoffice.clock import Clock
from backoffice.db.engine import Database
from backoffice.db.webhook_queries import get_webhook
from backoffice.errors import Invalid, NotFound
from backoffice.sealing import Sealing


class WebhookSecrets:
    """The secrets of the merchants' URL webhooks: reveal."""

    def __init__(self, db: Database, sealing: Sealing, *, clock: Clock) -> None:
        self.db = db
        self.sealing = sealing
        self.clock = clock

    def reveal(self, merchant_id: str, webhook_id: str, *,
               actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """The webhook's secret in clear, with its fingerprint: ``{"webhook_id", "name",
        "secret", "secret_fingerprint"}``. An e-mail webhook has none (422)."""
        moment = self.clock()
        with self.db.write() as conn:
            record = get_webhook(conn, merchant_id, id=webhook_id)
            if record is None:
                raise NotFound(f"no webhook with id {webhook_id[:64]!r}")
            secret = self.sealing.webhook_secret(record)
            if secret is None:
                raise Invalid(f"webhook {record.name!r} is an e-mail webhook: e-mail webhooks "
                              "have no secret")
            audit.record(conn, actor, merchant_id, audit.SECRET_REVEAL, at=moment, status=200,
                         target_id=record.id, target_name=record.name, fields=["secret"])
        return {"webhook_id": record.id, "name": record.name, "secret": secret,
                "secret_fingerprint": record.secret_fingerprint}

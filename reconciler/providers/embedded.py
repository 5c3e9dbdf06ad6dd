"""The embedded provider: the backoffice's service in-process, on SQLite beside the config.

This is the default: no server, no token. It acts for the demo merchant with the
permission to manage webhooks, and calls the very rules the HTTP API calls. The audit
log records its writes, and its refused ones, as the local operator's (``cli:local``).

It is for local development, so it delivers to loopback and private addresses (a
receiver on this machine, ``webhooks listen``), which ``webhooks serve`` refuses unless
told otherwise. There is no long-running worker: ``run_due`` attempts the due deliveries
(retries included) in rounds, off the event loop's thread, until none is due or its time
is up. An emit runs it; so do the commands that deliver on the embedded backoffice
(``emit``, ``deliveries``, ``test``, ``deliver``), never those that only read or plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from backoffice import audit
from backoffice.auth import LOCAL_OPERATOR, MANAGE, READ
from backoffice.catalog import DEMO_MERCHANT_ID
from backoffice.facade import Backoffice
from contract import private_files
from contract.fingerprints import Fingerprints
from reconciler.errors import ProviderError
from reconciler.model import Catalog, RemoteWebhook
from reconciler.providers.base import DeliveryQuery, Identity, ListFilters, catalog_from_api
from reconciler.providers.errors import backoffice_errors
from reconciler.target import EMBEDDED_DB, Target

DB_NAME = EMBEDDED_DB
EMIT_ROUND_S = 10.0  # how long an emit goes on attempting due deliveries

# The backoffice logs each delivery attempt for a server's operators. In-process, the
# commands report outcomes themselves; without this, logging's last resort would print
# those lines raw on stderr.
logging.getLogger("backoffice").addHandler(logging.NullHandler())


class EmbeddedProvider:
    """One merchant's webhooks in a backoffice opened in this process."""

    def __init__(self, office: Backoffice, merchant_id: str = DEMO_MERCHANT_ID, *,
                 target: Target | None = None) -> None:
        self.office = office
        self.merchant_id = merchant_id
        self.description = f"embedded backoffice ({office.db.url})"
        self.target = target or Target("embedded", office.db.url.removeprefix("sqlite:///"))
        self._fingerprints: Fingerprints | None = None

    @classmethod
    def open(cls, data_dir: Path, merchant_id: str = DEMO_MERCHANT_ID, *,
             target: Target | None = None) -> EmbeddedProvider:
        """Open (creating with the demo merchant on first use) the backoffice in ``data_dir``."""
        failed = f"cannot open the embedded backoffice in {data_dir}"
        try:
            private_files.make_folder(data_dir)  # 0700: the database, key and outbox
            with backoffice_errors("open", "embedded backoffice",
                                   message=lambda detail: f"{failed}: {detail}"):
                office = Backoffice.open(f"sqlite:///{data_dir / DB_NAME}", data_dir=data_dir,
                                         allow_private_targets=True)
        except OSError as exc:
            raise ProviderError(f"{failed}: {exc.strerror}") from None
        return cls(office, merchant_id, target=target)

    @classmethod
    def open_in_memory(cls, target: Target) -> EmbeddedProvider:
        """An embedded backoffice that does not exist yet, as the first apply will create
        it (empty, with the demo merchant), held in memory: reading or planning against it
        writes nothing to disk (no database, no ``server.key``, no directory)."""
        with backoffice_errors("open", "embedded backoffice"):
            office = Backoffice.open("sqlite://", server_key=os.urandom(32), env={},
                                     allow_private_targets=True)
        provider = cls(office, target=target)
        provider.description = f"embedded backoffice ({target.location}, not created yet)"
        return provider

    async def whoami(self) -> Identity:
        """In-process, the tool acts for the demo merchant with every permission."""
        return Identity(self.merchant_id, frozenset({READ, MANAGE}))

    def _errors(self, what: str) -> contextlib.AbstractContextManager[None]:
        return backoffice_errors(what, self.description)

    @contextlib.contextmanager
    def _write(self, what: str, action: str, target: str | None = None) -> Iterator[None]:
        """A write: its refusal goes to the audit log, then becomes our error."""
        with self._errors(what), self.office.audit.refusals(LOCAL_OPERATOR, self.merchant_id,
                                                            action, target):
            yield

    async def aclose(self) -> None:
        self.office.close()

    async def fetch(self, filters: ListFilters | None = None) -> list[RemoteWebhook]:
        query = filters.as_query() if filters else {}
        out: list[RemoteWebhook] = []
        cursor: str | None = None
        while True:
            with self._errors("list webhooks"):
                result = self.office.webhooks.list_webhooks(
                    self.merchant_id, limit=1000, cursor=cursor, **query)
            out.extend(RemoteWebhook.from_api(item) for item in result.data)
            cursor = result.next_cursor
            if cursor is None:
                return out

    async def get(self, webhook_id: str) -> RemoteWebhook:
        with self._errors(f"get {webhook_id}"):
            data = self.office.webhooks.get_webhook(self.merchant_id, webhook_id)
        return RemoteWebhook.from_api(data)

    async def catalog(self) -> Catalog:
        with self._errors("read the catalogue"):
            return catalog_from_api({**self.office.merchants.catalog(self.merchant_id),
                                     "policy": self.office.webhooks.policy()})

    async def fingerprints(self) -> Fingerprints:
        if self._fingerprints is None:
            with self._errors("read the fingerprint key"):
                self._fingerprints = self.office.merchants.fingerprints(self.merchant_id)
        return self._fingerprints

    async def create(self, body: dict[str, Any], *, idempotency_key: str) -> RemoteWebhook:
        with self._write(f"create {body.get('name')}", audit.WEBHOOK_CREATE):
            data = self.office.webhooks.create_webhook(
                self.merchant_id, body, idempotency_key=idempotency_key)
        return RemoteWebhook.from_api(data)

    async def update(
        self, webhook_id: str, patch: dict[str, Any], *, if_match: int | None
    ) -> RemoteWebhook:
        with self._write(f"update {webhook_id}", audit.WEBHOOK_UPDATE, webhook_id):
            data = self.office.webhooks.update_webhook(
                self.merchant_id, webhook_id, patch, if_match=if_match)
        return RemoteWebhook.from_api(data)

    async def delete(self, webhook_id: str, *, if_match: int | None) -> None:
        with self._write(f"delete {webhook_id}", audit.WEBHOOK_DELETE, webhook_id):
            self.office.webhooks.delete_webhook(self.merchant_id, webhook_id, if_match=if_match)

    async def rotate_secret(self, webhook_id: str, *, grace_seconds: int | None,
                            if_match: int | None) -> RemoteWebhook:
        with self._write(f"rotate the secret of {webhook_id}", audit.WEBHOOK_UPDATE,
                         webhook_id):
            data = self.office.webhooks.rotate_secret(
                self.merchant_id, webhook_id, grace_seconds=grace_seconds, if_match=if_match)
        return RemoteWebhook.from_api(data)

    async def test(self, webhook_id: str, notification: str | None = None,
                   scenario: str | None = None) -> dict[str, Any]:
        with self._write(f"the test-fire of {webhook_id}", audit.WEBHOOK_TEST, webhook_id):
            return self.office.deliveries.test_webhook(
                self.merchant_id, webhook_id, notification_type=notification,
                scenario=scenario)

    async def emit(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._write("the notification", audit.NOTIFICATION_EMIT):
            emitted = self.office.deliveries.emit_notification(self.merchant_id, body)
        await self.run_due(seconds=EMIT_ROUND_S)
        # The first attempt has happened: report each delivery's status after it.
        for delivery in emitted.get("deliveries", []):
            now = self._find_delivery(delivery.get("webhook_id"), delivery.get("id"))
            if now is not None:
                delivery["status"] = now.get("status", delivery.get("status"))
        return emitted

    async def deliveries(self, webhook_id: str, limit: int = 20) -> list[dict[str, Any]]:
        with self._errors(f"read the deliveries of {webhook_id}"):
            return self.office.deliveries.list_deliveries(self.merchant_id, webhook_id,
                                                          limit=limit)

    def _find_delivery(self, webhook_id: object, delivery_id: object) -> dict[str, Any] | None:
        if not isinstance(webhook_id, str):
            return None
        # Newest first, and this delivery was just created: it is among the first few.
        with self._errors(f"read the deliveries of {webhook_id}"):
            recent = self.office.deliveries.list_deliveries(self.merchant_id, webhook_id,
                                                            limit=20)
        return next((d for d in recent if d.get("id") == delivery_id), None)

    async def find_deliveries(self, query: DeliveryQuery, *,
                              limit: int = 50) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(out) < limit:
            with self._errors("read the delivery log"):
                page = self.office.delivery_log.list_deliveries(
                    self.merchant_id, limit=min(1000, limit - len(out)), cursor=cursor,
                    **query.as_query())
            out.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return out[:limit]

    async def get_delivery(self, delivery_id: str) -> dict[str, Any]:
        with self._errors(f"read delivery {delivery_id}"):
            return self.office.delivery_log.get_delivery(self.merchant_id, delivery_id)

    async def resend(self, delivery_id: str) -> dict[str, Any]:
        with self._write(f"resend {delivery_id}", audit.DELIVERY_RESEND, delivery_id):
            return self.office.delivery_log.resend(self.merchant_id, delivery_id)

    async def recover(self, webhook_id: str, since: str) -> dict[str, Any]:
        with self._write(f"recover the deliveries of {webhook_id}", audit.WEBHOOK_RECOVER,
                         webhook_id):
            return self.office.delivery_log.recover(self.merchant_id, webhook_id, since)

    async def reveal_secret(self, webhook_id: str) -> dict[str, Any]:
        with self._write(f"reveal the secret of {webhook_id}", audit.SECRET_REVEAL,
                         webhook_id):
            return self.office.secrets.reveal(self.merchant_id, webhook_id)

    async def audit(self, *, since: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(out) < limit:
            with self._errors("read the audit log"):
                page = self.office.audit.list_entries(
                    self.merchant_id, since=since, limit=min(1000, limit - len(out)),
                    cursor=cursor)
            out.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return out[:limit]

    async def run_due(self, *, seconds: float) -> int:
        with self._errors("deliver"):
            return await asyncio.to_thread(self._run_due, seconds)

    def _run_due(self, seconds: float) -> int:
        """Rounds of due deliveries (one at least) until none is due or time is up."""
        deliveries = self.office.deliveries
        deadline = time.monotonic() + seconds
        attempted = 0
        while True:
            done = deliveries.deliver_due(limit=max(1, deliveries.settings.concurrency))
            attempted += done
            if done == 0 or time.monotonic() >= deadline:
                return attempted

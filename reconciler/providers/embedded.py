"""The embedded provider: the backoffice's service in-process, on SQLite beside the config.

This is the default: no server, no token. It acts for the demo merchant with the
permission to manage webhooks, and calls the very rules the HTTP API calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from backoffice.catalog import DEMO_MERCHANT_ID
from backoffice.errors import BackofficeError
from backoffice.service import Backoffice, Page
from reconciler.errors import ProviderError
from reconciler.model import Catalog, RemoteWebhook
from reconciler.providers.base import ListFilters, catalog_from_api, error_for_status

T = TypeVar("T")
DB_NAME = "backoffice.db"


class EmbeddedProvider:
    """One merchant's webhooks in a backoffice opened in this process."""

    def __init__(self, office: Backoffice, merchant_id: str = DEMO_MERCHANT_ID) -> None:
        self.office = office
        self.merchant_id = merchant_id
        self.description = f"embedded backoffice ({office.db_url})"

    @classmethod
    def open(cls, data_dir: Path, merchant_id: str = DEMO_MERCHANT_ID) -> EmbeddedProvider:
        """Open (creating with the demo merchant on first use) the backoffice in ``data_dir``."""
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            office = Backoffice.open(f"sqlite:///{data_dir / DB_NAME}", data_dir=data_dir)
        except BackofficeError as exc:
            raise ProviderError(
                f"cannot open the embedded backoffice in {data_dir}: {exc.detail}"
            ) from None
        except OSError as exc:
            raise ProviderError(
                f"cannot open the embedded backoffice in {data_dir}: {exc.strerror}"
            ) from None
        return cls(office, merchant_id)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except BackofficeError as exc:
            raise error_for_status(exc.status, exc.detail, what, self.description) from None

    async def aclose(self) -> None:
        self.office.close()

    async def fetch(self, filters: ListFilters | None = None) -> list[RemoteWebhook]:
        query = filters.as_query() if filters else {}

        def page(after: str | None) -> Page:
            return self.office.list_webhooks(self.merchant_id, limit=1000, cursor=after, **query)

        out: list[RemoteWebhook] = []
        cursor: str | None = None
        while True:
            result = self._call("list webhooks", functools.partial(page, cursor))
            out.extend(RemoteWebhook.from_api(item) for item in result.data)
            cursor = result.next_cursor
            if cursor is None:
                return out

    async def get(self, webhook_id: str) -> RemoteWebhook:
        data = self._call(
            f"get {webhook_id}", lambda: self.office.get_webhook(self.merchant_id, webhook_id)
        )
        return RemoteWebhook.from_api(data)

    async def catalog(self) -> Catalog:
        return catalog_from_api(
            self._call("read the catalogue", lambda: self.office.catalog(self.merchant_id))
        )

    async def create(self, body: dict[str, Any], *, idempotency_key: str) -> RemoteWebhook:
        data = self._call(
            f"create {body.get('name')}",
            lambda: self.office.create_webhook(
                self.merchant_id, body, idempotency_key=idempotency_key
            ),
        )
        return RemoteWebhook.from_api(data)

    async def update(
        self, webhook_id: str, patch: dict[str, Any], *, if_match: int | None
    ) -> RemoteWebhook:
        data = self._call(
            f"update {webhook_id}",
            lambda: self.office.update_webhook(
                self.merchant_id, webhook_id, patch, if_match=if_match
            ),
        )
        return RemoteWebhook.from_api(data)

    async def delete(self, webhook_id: str, *, if_match: int | None) -> None:
        self._call(
            f"delete {webhook_id}",
            lambda: self.office.delete_webhook(self.merchant_id, webhook_id, if_match=if_match),
        )

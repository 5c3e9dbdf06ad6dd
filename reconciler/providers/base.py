"""The one contract every provider satisfies (embedded and HTTP alike)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.errors import (
    AuthenticationError,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ProviderError,
    Unavailable,
)
from reconciler.model import Catalog, RemoteWebhook


@dataclass(frozen=True)
class ListFilters:
    """The Backoffice's four quick filters."""

    credential: str | None = None
    notification: str | None = None
    type: str | None = None
    webhook: str | None = None

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class DeliveryQuery:
    """The delivery log's filters (they combine): a webhook id, a status, deliveries
    created since a moment (ISO-8601, or a duration ago such as ``2h``), a notification id."""

    webhook: str | None = None
    status: str | None = None
    since: str | None = None
    notification: str | None = None

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


class Provider(Protocol):
    """Reaches one merchant's webhooks in a backoffice.

    Every method raises ``reconciler.errors.ProviderError`` subclasses, never a
    transport or storage exception.
    """

    description: str

    async def fetch(self, filters: ListFilters | None = None) -> list[RemoteWebhook]:
        """Every webhook of the merchant (all pages), optionally filtered."""
        ...

    async def get(self, webhook_id: str) -> RemoteWebhook: ...

    async def catalog(self) -> Catalog: ...

    async def create(self, body: dict[str, Any], *, idempotency_key: str) -> RemoteWebhook: ...

    async def update(
        self, webhook_id: str, patch: dict[str, Any], *, if_match: int | None
    ) -> RemoteWebhook: ...

    async def delete(self, webhook_id: str, *, if_match: int | None) -> None: ...

    async def rotate_secret(self, webhook_id: str, *, grace_seconds: int | None,
                            if_match: int | None) -> RemoteWebhook:
        """Replace a URL webhook's secret with a new generated one; the old one stays
        valid for ``grace_seconds`` (the backoffice's default when None). The webhook
        afterwards (its new fingerprint; never the secret)."""
        ...

    async def test(self, webhook_id: str, notification: str | None = None) -> dict[str, Any]:
        """Test-fire a URL webhook now; the backoffice's TestResult (delivered or not)."""
        ...

    async def emit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Emit a payment notification: ``{"notification": {...}, "deliveries": [...]}``."""
        ...

    async def deliveries(self, webhook_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The webhook's delivery log, newest first."""
        ...

    async def find_deliveries(self, query: DeliveryQuery, *,
                              limit: int = 50) -> list[dict[str, Any]]:
        """Up to ``limit`` of the merchant's deliveries matching ``query`` (all pages),
        newest first, each with its attempts in ``history``."""
        ...

    async def get_delivery(self, delivery_id: str) -> dict[str, Any]:
        """One delivery with its attempts."""
        ...

    async def resend(self, delivery_id: str) -> dict[str, Any]:
        """Make the delivery due now, whatever its status (Conflict while it is being
        attempted); the delivery afterwards."""
        ...

    async def recover(self, webhook_id: str, since: str) -> dict[str, Any]:
        """Resend the webhook's failed and given-up deliveries (not tests) created since
        ``since``: ``{"webhook_id", "since", "recovered"}``."""
        ...

    async def run_due(self, *, seconds: float) -> int:
        """Attempt due deliveries until none is due or ``seconds`` have passed (a round
        in flight finishes); how many attempts were made. A backoffice with its own
        worker (a server) does this itself: 0."""
        ...

    async def aclose(self) -> None: ...


def catalog_from_api(data: dict[str, Any]) -> Catalog:
    """Build a Catalog from the backoffice's ``/v1/catalog`` document."""
    return Catalog(
        notification_types={t["code"]: t["label"] for t in data["notification_types"]},
        stores=frozenset(s["code"] for s in data["stores"]),
        terminals={t["id"]: t["store"] for t in data["terminals"]},
        credentials={c["client_id"]: c["terminal"] for c in data["credentials"]},
    )


def error_for_status(status: int, detail: str, what: str, where: str) -> ProviderError:
    """The one mapping of a backoffice refusal (HTTP status + problem detail) to our tree."""
    if status == 401:
        return AuthenticationError(
            "the backoffice rejected the API token (401): set WEBHOOKS_API_TOKEN to a valid token",
            status=status,
        )
    if status == 403:
        return PermissionDenied(detail or "this token lacks the permission", status=status)
    if status == 404:
        return NotFound(detail or f"{what}: not found", status=status)
    if status == 409:
        return Conflict(detail or f"{what}: conflict", status=status)
    if status == 412:
        return PreconditionFailed(
            f"changed since plan: {detail}" if detail else "changed since plan", status=status
        )
    if status in (400, 413, 422):
        return InvalidRequest(f"the backoffice refused to {what}: {detail}", status=status)
    if status == 429:
        return Unavailable(f"the {where} is busy (429), still after retrying: "
                           f"{detail or 'too many requests'}", status=status)
    if status >= 500:
        return Unavailable(f"the {where} failed ({status}): {detail}", status=status)
    return ProviderError(f"{what}: unexpected HTTP {status}: {detail}", status=status)

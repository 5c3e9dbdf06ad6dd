"""The one contract every provider satisfies (embedded and HTTP alike)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from contract.fingerprints import Fingerprints
from reconciler.errors import (
    AuthenticationError,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ProviderError,
    RateLimited,
    Unavailable,
)
from reconciler.model import Catalog, RemoteWebhook
from reconciler.target import Target

# A 429 asking for a longer wait than this (a rate limit for the minute) is reported with
# its wait at once (RateLimited) rather than waited for; a shorter one is retried.
MAX_429_WAIT = 10.0


@dataclass(frozen=True)
class ListFilters:
    """The Backoffice's four quick filters."""

    credential: str | None = None
    notification: str | None = None
    type: str | None = None
    webhook: str | None = None

    def as_query(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


MANAGE_SCOPE = "webhooks:manage"


@dataclass(frozen=True)
class Identity:
    """Who a provider acts as: the merchant and the scopes of its token."""

    merchant: str
    scopes: frozenset[str]

    @property
    def can_manage(self) -> bool:
        return MANAGE_SCOPE in self.scopes


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
    target: Target  # the backoffice as plans and messages name it: no credential

    async def whoami(self) -> Identity | None:
        """The merchant and scopes this provider acts with; None when the backoffice
        cannot say (a server older than ``/v1/whoami``)."""
        ...

    async def fetch(self, filters: ListFilters | None = None) -> list[RemoteWebhook]:
        """Every webhook of the merchant (all pages), optionally filtered."""
        ...

    async def get(self, webhook_id: str) -> RemoteWebhook: ...

    async def catalog(self) -> Catalog: ...

    async def fingerprints(self) -> Fingerprints:
        """The merchant's fingerprints (its fingerprint key), fetched once per provider,
        to fingerprint the config's values as the backoffice does. The key is never
        written anywhere: not in plans, outputs, logs or errors."""
        ...

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

    async def test(self, webhook_id: str, notification: str | None = None,
                   scenario: str | None = None) -> dict[str, Any]:
        """Test-fire a URL webhook now (a scenario, or a type's default one); the
        backoffice's TestResult (delivered or not)."""
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

    async def reveal_secret(self, webhook_id: str) -> dict[str, Any]:
        """A URL webhook's secret in clear: ``{"webhook_id", "name", "secret",
        "secret_fingerprint"}`` (needs the reveal scope; recorded in the audit log)."""
        ...

    async def audit(self, *, since: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Up to ``limit`` of the merchant's audit log entries since ``since`` (all pages),
        newest first."""
        ...

    async def run_due(self, *, seconds: float) -> int:
        """Attempt due deliveries until none is due or ``seconds`` have passed (a round
        in flight finishes); how many attempts were made. A backoffice with its own
        worker (a server) does this itself: 0."""
        ...

    async def aclose(self) -> None: ...


def catalog_from_api(data: dict[str, Any]) -> Catalog:
    """Build a Catalog from the backoffice's ``/v1/catalog`` document."""
    policy = data.get("policy")
    private = policy.get("private_targets") if isinstance(policy, dict) else None
    return Catalog(
        notification_types={t["code"]: t["label"] for t in data["notification_types"]},
        stores=frozenset(s["code"] for s in data["stores"]),
        terminals={t["id"]: t["store"] for t in data["terminals"]},
        credentials={c["client_id"]: c["terminal"] for c in data["credentials"]},
        private_targets={"allowed": True, "refused": False}.get(str(private)),
    )


def error_for_status(status: int, detail: str, what: str, where: str, *,
                     retry_after: float | None = None) -> ProviderError:
    """The one mapping of a backoffice refusal (HTTP status + problem detail) to our tree.

    ``retry_after``: the seconds a 429 said to wait, which the message then gives.
    """
    if status == 401:
        why = f": {detail}" if detail.startswith("the bearer token") else ""
        return AuthenticationError(
            f"the backoffice rejected the API token (401{why}): set WEBHOOKS_API_TOKEN to a "
            "valid token", status=status,
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
        said = detail or "too many requests"
        wait = "" if retry_after is None or "retry after" in said else \
            f"; retry in {retry_after:.0f} s"
        if retry_after is not None and retry_after > MAX_429_WAIT:  # not retried: too long
            return RateLimited(f"the {where} refused for now (429 Too many requests): "
                               f"{said}{wait}", retry_after=retry_after)
        return RateLimited(f"the {where} is busy (429), still after retrying: {said}{wait}",
                           retry_after=retry_after)
    if status >= 500:
        return Unavailable(f"the {where} failed ({status}): {detail}", status=status)
    return ProviderError(f"{what}: unexpected HTTP {status}: {detail}", status=status)

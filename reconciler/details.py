"""One webhook in full, for ``webhooks show``: found by name, with its recent deliveries.

The provider contract has no get-by-name, and the list's ``webhook`` filter matches URL
and e-mail text, not names: so ``find`` fetches the merchant's list and picks by name,
which also gives the near names to suggest when there is no such webhook.

Recent deliveries: ``show`` lists the last few from the provider's delivery log
(``Provider.deliveries``). A provider may instead implement ``DeliveryLog``
(``recent_deliveries``) to summarise them itself. A backoffice that predates the
delivery log (its endpoint answers 404) leaves the section out.

``reconciler.render.details`` shows what ``gather`` returns.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from reconciler.errors import NotFound
from reconciler.model import Catalog, RemoteWebhook
from reconciler.providers import Provider
from reconciler.render.details import DeliverySummary, Details
from reconciler.render.terminal import printable

RECENT_DELIVERIES = 5


def summarize(delivery: Mapping[str, Any]) -> DeliverySummary:
    """A delivery-log entry of the backoffice (a Delivery dict) as ``show`` lists it."""
    kind = str(delivery.get("notification_type") or "?")
    if delivery.get("test"):
        kind += " (test)"
    attempts = delivery.get("attempts")
    facts = []
    if delivery.get("last_status_code") is not None:
        facts.append(f"HTTP {delivery['last_status_code']}")
    elif delivery.get("last_error"):
        facts.append(" ".join(str(delivery["last_error"]).split())[:80])
    if isinstance(attempts, int) and attempts != 1:
        facts.append(f"{attempts} attempts")
    return DeliverySummary(
        at=str(delivery.get("last_attempt_at") or delivery.get("created_at") or "-"),
        notification_type=kind,
        status=str(delivery.get("status") or "?"),
        detail=", ".join(facts),
    )


@runtime_checkable
class DeliveryLog(Protocol):
    """A provider that can read a webhook's delivery log (the hook ``show`` looks for)."""

    async def recent_deliveries(self, webhook_id: str, *, limit: int) -> list[DeliverySummary]:
        """The last ``limit`` deliveries of the webhook, newest first."""
        ...


def find(webhooks: Iterable[RemoteWebhook], name: str, where: str) -> RemoteWebhook:
    """The webhook called ``name``; NotFound, with the close names, when there is none."""
    names = []
    for webhook in webhooks:
        if webhook.name == name:
            return webhook
        names.append(webhook.name)
    close = difflib.get_close_matches(name, sorted(names), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    if not names:
        hint = " It has no webhooks at all."
    shown = name if len(name) <= 80 else name[:77] + "..."
    raise NotFound(f"no webhook named {printable(shown)!r} in the {where}.{hint}")


async def gather(
    provider: Provider, name: str, *, deliveries: int = RECENT_DELIVERIES
) -> Details:
    """Everything ``show`` needs about ``name`` from the backoffice."""
    webhook = find(await provider.fetch(), name, provider.description)
    catalog: Catalog = await provider.catalog()
    log: tuple[DeliverySummary, ...] | None = None
    if isinstance(provider, DeliveryLog):
        log = tuple(await provider.recent_deliveries(webhook.id, limit=deliveries))
    else:
        try:
            entries = await provider.deliveries(webhook.id, limit=deliveries)
        except NotFound:  # the webhook was just found: it is the endpoint that is missing
            entries = None
        log = None if entries is None else tuple(summarize(d) for d in entries)
    return Details(webhook, dict(catalog.notification_types), log)

"""One webhook in full, for ``webhooks show``: found by name, shown as text or JSON.

The secret appears only as its fingerprint (the backoffice never returns more), and a
URL's password is redacted.

The provider contract has no get-by-name, and the list's ``webhook`` filter matches URL
and e-mail text, not names: so ``find`` fetches the merchant's list and picks by name,
which also gives the near names to suggest when there is no such webhook.

Recent deliveries: ``show`` lists the last few from the provider's delivery log
(``Provider.deliveries``). A provider may instead implement ``DeliveryLog``
(``recent_deliveries``) to summarise them itself. A backoffice that predates the
delivery log (its endpoint answers 404) leaves the section out.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from reconciler.errors import NotFound
from reconciler.listing import printable, target, webhook_data
from reconciler.model import Catalog, RemoteWebhook
from reconciler.providers import Provider

RECENT_DELIVERIES = 5

FORMAT_NOTES = {
    "sibs": "AES-256-GCM encrypted body",
    "standard-webhooks": "HMAC-SHA256 signed, Standard Webhooks v1",
}


@dataclass(frozen=True)
class DeliverySummary:
    """One delivery of a notification to a webhook, as ``show`` lists it."""

    at: str  # when it was (last) attempted, ISO 8601
    notification_type: str
    status: str  # e.g. delivered, failed, pending
    detail: str = ""  # e.g. "HTTP 200 in 35 ms", "3 attempts"

    @property
    def data(self) -> dict[str, str]:
        return {
            "at": self.at,
            "notification_type": self.notification_type,
            "status": self.status,
            "detail": self.detail,
        }


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


@dataclass(frozen=True)
class Details:
    """What ``show`` prints; ``deliveries`` is None when the backoffice keeps no log."""

    webhook: RemoteWebhook
    notification_labels: dict[str, str]
    deliveries: tuple[DeliverySummary, ...] | None = None

    @property
    def data(self) -> dict[str, Any]:
        out = webhook_data(self.webhook)
        out["deliveries"] = (
            None if self.deliveries is None else [d.data for d in self.deliveries]
        )
        return out


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
    raise NotFound(f"no webhook named {printable(name)!r} in the {where}.{hint}")


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


def describe_application(application: str) -> str:
    kind, _, ref = application.partition(":")
    if application == "merchant":
        return "merchant (every store and terminal)"
    if kind == "store":
        return f"{application} (the terminals of store {ref})"
    return application


def render_text(details: Details) -> str:
    """Every detail, one per line; control characters in values shown as escapes."""
    w = details.webhook
    labels = details.notification_labels
    items: list[tuple[str, str]] = [
        ("id", w.id),
        ("type", w.type),
        ("url" if w.type == "url" else "email", target(w) or "-"),
        ("application", describe_application(w.application)),
        (
            "notifications",
            ", ".join(f"{n} ({labels[n]})" if n in labels else n for n in w.notifications),
        ),
        ("support_email", w.support_email or "-"),
    ]
    if w.type == "url":
        note = FORMAT_NOTES.get(w.format)
        items.append(("format", f"{w.format} ({note})" if note else w.format))
        shown = w.secret_fingerprint or "-"
        items.append(("secret", f"{shown} (fingerprint; the secret is never shown)"))
    items += [
        ("enabled", "yes" if w.enabled else "no"),
        ("description", w.description or "-"),
        ("managed", _management(w)),
        ("prevent_destroy", "yes" if w.prevent_destroy else "no"),
        ("labels", ", ".join(f"{k}={v}" for k, v in sorted(w.labels.items())) or "-"),
        ("version", str(w.version)),
        ("created_at", w.created_at or "-"),
        ("updated_at", w.updated_at or "-"),
    ]
    width = max(len(k) for k, _ in items) + 1
    lines = [f"Webhook {printable(w.name)}"]
    lines += [f"  {key + ':':<{width}} {printable(value)}" for key, value in items]
    if details.deliveries is not None:
        lines += ["", *_deliveries(details.deliveries)]
    return "\n".join(lines) + "\n"


def _management(w: RemoteWebhook) -> str:
    if w.managed:
        return f'by webhooks-reconciler, owner "{w.owner}"'
    if w.owner:
        return f'no (labelled owner "{w.owner}", but not managed by webhooks-reconciler)'
    return "no (`webhooks import --unmanaged` writes config to adopt it)"


def _deliveries(deliveries: Sequence[DeliverySummary]) -> list[str]:
    if not deliveries:
        return ["Recent deliveries: none."]
    lines = ["Recent deliveries (newest first):"]
    for d in deliveries:
        detail = f"  {d.detail}" if d.detail else ""
        lines.append(printable(f"  {d.at}  {d.notification_type}  {d.status}{detail}"))
    return lines

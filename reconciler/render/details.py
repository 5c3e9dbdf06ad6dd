"""One webhook in full, as ``webhooks show`` prints it: every detail, one per line.

The secret appears only as its fingerprint (the backoffice never returns more), and a
URL's credentials (a password, a query string) are redacted. ``reconciler.details``
gathers what is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.model import RemoteWebhook
from reconciler.render.listing import target, webhook_data
from reconciler.render.terminal import printable

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


@dataclass(frozen=True)
class Details:
    """What ``show`` prints; ``deliveries`` is None when the backoffice keeps no log."""

    webhook: RemoteWebhook
    notification_labels: dict[str, str]
    deliveries: tuple[DeliverySummary, ...] | None = None

    @property
    def data(self) -> dict[str, Any]:
        out = webhook_data(self.webhook)
        out["applied"] = self.webhook.applied  # the last-applied record: no secret in it
        out["deliveries"] = (
            None if self.deliveries is None else [d.data for d in self.deliveries]
        )
        return out


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
        items += _secret_lines(w)
    items += [
        ("enabled", "yes" if w.enabled else "no"),
        ("description", w.description or "-"),
        ("managed", _management(w)),
        ("prevent_destroy", "yes" if w.prevent_destroy else "no"),
        ("labels", ", ".join(f"{k}={v}" for k, v in sorted(w.labels.items())) or "-"),
        ("version", str(w.version)),
        ("created_at", w.created_at or "-"),
        ("updated_at", w.updated_at or "-"),
        ("last_applied", _last_applied(w)),
    ]
    width = max(len(k) for k, _ in items) + 1
    lines = [f"Webhook {printable(w.name)}"]
    lines += [f"  {key + ':':<{width}} {printable(value)}" for key, value in items]
    if details.deliveries is not None:
        lines += ["", *_deliveries(details.deliveries)]
    return "\n".join(lines) + "\n"


def _last_applied(w: RemoteWebhook) -> str:
    """When ``webhooks apply`` last wrote it, for which owner, from which commit."""
    record = w.applied
    if record is None:
        return "- (no apply of this version has written it)"
    parts = [str(record.get("at") or "?"), f"by owner {record.get('owner') or '?'}"]
    if record.get("revision"):
        parts.append(f"config at {str(record['revision'])[:12]}")
    return ", ".join(parts)


DELIVERY_SECRET = {
    "both": "both: each delivery carries a signature with each secret",
    "previous": ("the previous one, until a test-fire with the new one is acknowledged "
                 "(`webhooks test NAME`) or the grace ends"),
    "current": "the current one",
}


def _secret_lines(w: RemoteWebhook) -> list[tuple[str, str]]:
    """The secret's fingerprint; during a rotation the previous one's too, until when,
    and which one deliveries use. Never a secret."""
    shown = w.secret_fingerprint or "-"
    note = "fingerprint; the secret is never shown"
    if w.secret_weak:
        note += (f"; WEAK (stored before weak secrets were refused): replace it with "
                 f"`webhooks secret rotate {w.name}` or a strong one in the config")
    lines = [("secret", f"{shown} ({note})")]
    if w.previous_secret_fingerprint is not None:
        until = w.previous_secret_valid_until or "?"
        lines.append(("previous secret", f"{w.previous_secret_fingerprint} (valid until "
                      f"{until}: the receiver may use either until then)"))
        used = DELIVERY_SECRET.get(w.delivery_secret or "", w.delivery_secret or "?")
        lines.append(("deliveries use", used.replace("NAME", w.name)))
    return lines


def _management(w: RemoteWebhook) -> str:
    if w.managed:
        return f'by webhooks-reconciler, owner "{w.owner}"'
    if w.owner:
        return f'no (labelled owner "{w.owner}", but not managed by webhooks-reconciler)'
    return "no (`webhooks import --include-unmanaged` writes config to adopt it)"


def _deliveries(deliveries: Sequence[DeliverySummary]) -> list[str]:
    if not deliveries:
        return ["Recent deliveries: none."]
    lines = ["Recent deliveries (newest first):"]
    for d in deliveries:
        detail = f"  {d.detail}" if d.detail else ""
        lines.append(printable(f"  {d.at}  {d.notification_type}  {d.status}{detail}"))
    return lines

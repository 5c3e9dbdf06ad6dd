"""Notifications and their deliveries as people read them: an emit's result and a
webhook's delivery log (``webhooks emit``, ``webhooks deliveries``).

Nothing here reaches a backoffice or prints. Every value that came from a receiver
(response excerpts, errors) is made safe for a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.render.terminal import printable

COLUMNS = ("id", "created", "type", "status", "attempts", "http", "detail")
DETAIL_WIDTH = 60


def render_emitted(result: Mapping[str, Any]) -> str:
    """The notification id and one line per delivery (webhook name, status)."""
    notification = result.get("notification") or {}
    amount = notification.get("amount") or {}
    value = amount.get("value")
    money = f"{value:.2f}" if isinstance(value, int | float) else str(value or "")
    terminal = (notification.get("merchant") or {}).get("terminalId")
    facts = [str(notification.get("type") or "?"), str(notification.get("paymentStatus") or "?"),
             f"{money} {amount.get('currency') or ''}".strip(), f"terminal {terminal}"]
    lines = [printable(f"Notification {notification.get('notificationID')} "
                       f"({', '.join(f for f in facts if f)})")]
    deliveries = result.get("deliveries") or []
    if not deliveries:
        lines.append("  No webhook receives it: none enabled covers the terminal and "
                     "subscribes to the type.")
    width = max((len(str(d.get("webhook") or "")) for d in deliveries), default=0)
    status_width = max((len(str(d.get("status"))) for d in deliveries), default=0)
    for d in deliveries:
        name = str(d.get("webhook") or d.get("webhook_id") or "?")
        status = str(d.get("status")).ljust(status_width)
        lines.append(printable(f"  {name.ljust(width)}  {status}  ({d.get('id')})"))
    if any(d.get("status") in ("pending", "failed") for d in deliveries):
        lines.append("Pending and failed deliveries are retried; "
                     "`webhooks deliveries NAME` shows how they went.")
    return "\n".join(lines) + "\n"


def _detail(d: Mapping[str, Any]) -> str:
    text = d.get("last_error") or d.get("response_excerpt") or ""
    if d.get("status") == "failed" and d.get("next_attempt_at"):
        text = f"{text}; next attempt {d['next_attempt_at']}" if text else \
            f"next attempt {d['next_attempt_at']}"
    text = " ".join(str(text).split())  # one line, whatever the receiver answered
    if len(text) > DETAIL_WIDTH:
        text = text[: DETAIL_WIDTH - 3] + "..."
    return text


def rows(deliveries: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """One row of COLUMNS per delivery, every cell safe to print."""
    out = []
    for d in deliveries:
        kind = str(d.get("notification_type") or "?") + (" (test)" if d.get("test") else "")
        code = d.get("last_status_code")
        cells = (str(d.get("id") or ""), str(d.get("created_at") or ""), kind,
                 str(d.get("status") or ""), str(d.get("attempts", "")),
                 "-" if code is None else str(code), _detail(d))
        out.append(tuple(printable(c) for c in cells))
    return out


def render_table(deliveries: Sequence[Mapping[str, Any]], name: str) -> str:
    """The delivery log, newest first, as a plain table."""
    if not deliveries:
        return printable(f"No deliveries for {name} yet.") + "\n"
    body = rows(deliveries)
    header = tuple(c.upper() for c in COLUMNS)
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in (header, *body)]
    return "\n".join(lines) + "\n"

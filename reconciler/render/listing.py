"""The Webhooks list as a table or as JSON (the filters are in ``reconciler.selection``).

Nothing here reaches a backoffice or prints.

No output carries a secret: the backoffice never returns one, and a URL that carries
credentials (``https://user:pass@host/...?token=...``) is shown with the password and
the query redacted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from contract.urls import redact_url
from reconciler.model import RemoteWebhook
from reconciler.render.terminal import printable

COLUMNS: tuple[str, ...] = (
    "name",
    "type",
    "target",
    "application",
    "notifications",
    "enabled",
    "owner",
)
NO_OWNER = "-"  # the owner column of a webhook no config manages
# rich lays a table out in about 0.7 ms a row: past this many, the plain table (instant,
# and as readable in a pager) serves a terminal too.
RICH_MAX_ROWS = 1000


def target(webhook: RemoteWebhook) -> str:
    """Where deliveries go: the URL (password redacted) or the e-mail address."""
    if webhook.url is not None:
        return redact_url(webhook.url)
    return webhook.email or ""


def owner_text(webhook: RemoteWebhook) -> str:
    return webhook.owner if webhook.managed and webhook.owner else NO_OWNER


def webhook_data(webhook: RemoteWebhook) -> dict[str, Any]:
    """The webhook as the API returns it, its URL's password redacted."""
    return {
        "id": webhook.id,
        "name": webhook.name,
        "type": webhook.type,
        "url": redact_url(webhook.url) if webhook.url is not None else None,
        "email": webhook.email,
        "application": webhook.application,
        "notifications": list(webhook.notifications),
        "support_email": webhook.support_email,
        "format": webhook.format,
        "enabled": webhook.enabled,
        "description": webhook.description,
        "secret_fingerprint": webhook.secret_fingerprint,
        "labels": dict(webhook.labels),
        "version": webhook.version,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
        "secret_weak": webhook.secret_weak,
        "previous_secret_fingerprint": webhook.previous_secret_fingerprint,
        "previous_secret_valid_until": webhook.previous_secret_valid_until,
        "delivery_secret": webhook.delivery_secret,
    }


def render_json(webhooks: Sequence[RemoteWebhook]) -> str:
    """A JSON list of webhook objects, for scripts."""
    return json.dumps([webhook_data(w) for w in webhooks], indent=2, ensure_ascii=False) + "\n"


def rows(webhooks: Iterable[RemoteWebhook]) -> list[tuple[str, ...]]:
    """One row of COLUMNS per webhook, every cell safe to print."""
    return [
        tuple(
            printable(cell)
            for cell in (
                w.name,
                w.type,
                target(w),
                w.application,
                ", ".join(w.notifications),
                "yes" if w.enabled else "no",
                owner_text(w),
            )
        )
        for w in webhooks
    ]


def render_table(webhooks: Sequence[RemoteWebhook], *, rich: bool, width: int = 100) -> str:
    """The list for people: a rich table for a colour terminal of ``width``, else plain text.

    The plain table never wraps or truncates (it is for pipes, ``grep`` and ``less -S``).
    """
    if not webhooks:
        return "No webhooks.\n"
    body = rows(webhooks)
    if rich and len(body) <= RICH_MAX_ROWS:
        return _rich_table(body, width)
    return _plain_table(body)


def _plain_table(body: list[tuple[str, ...]]) -> str:
    header = tuple(c.upper() for c in COLUMNS)
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in (header, *body)]
    return "\n".join(lines) + "\n"


def _rich_table(body: list[tuple[str, ...]], width: int) -> str:
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    for column in COLUMNS:
        if column == "name":
            table.add_column(column.upper(), style="bold", no_wrap=True)
        elif column in ("target", "notifications"):
            table.add_column(column.upper(), overflow="fold")
        else:
            table.add_column(column.upper(), no_wrap=column in ("type", "enabled"))
    enabled, owner = COLUMNS.index("enabled"), COLUMNS.index("owner")
    for row in body:
        cells = [Text(cell) for cell in row]  # Text: a "[bold]" in a value stays text
        cells[enabled].stylize("green" if row[enabled] == "yes" else "yellow")
        if row[owner] == NO_OWNER:
            cells[owner].stylize("dim")
        table.add_row(*cells)
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, color_system="standard", width=max(width, 40),
        highlight=False, emoji=False, markup=False,
    )
    console.print(table)
    return buffer.getvalue()

"""The Webhooks list: the client-side owner filters, and the list as a table or as JSON.

The Backoffice's four filters (credential, notification, type, webhook text) run in the
backoffice (``ListFilters``); whether a webhook is this or that owner's, or unmanaged,
is read off its labels here. Nothing here reaches a backoffice or prints.

No output carries a secret: the backoffice never returns one, and a URL that carries
credentials (``https://user:pass@host/...``) is shown with the password redacted.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from contract.urls import redact_url
from reconciler.model import RemoteWebhook

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

# What a terminal must not receive raw: C0/C1 controls, DEL and the Unicode line and
# paragraph separators (a description could otherwise move the cursor or fake lines).
_UNSAFE_FOR_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes, safe to print on a terminal."""
    if _UNSAFE_FOR_TERMINAL.search(text) is None:
        return text
    return _UNSAFE_FOR_TERMINAL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def select_owner(
    webhooks: Iterable[RemoteWebhook], *, owner: str | None = None, unmanaged: bool = False
) -> list[RemoteWebhook]:
    """The webhooks a config of ``owner`` manages, or (``unmanaged``) those none manages.

    Neither given: all of them. Both mean nothing sensible; the CLI refuses that.
    """
    if owner is not None and unmanaged:
        raise ValueError("owner and unmanaged are mutually exclusive")
    if owner is not None:
        return [w for w in webhooks if w.managed and w.owner == owner]
    if unmanaged:
        return [w for w in webhooks if not w.managed]
    return list(webhooks)


def by_name(webhooks: Iterable[RemoteWebhook]) -> list[RemoteWebhook]:
    """Name order: stable output whatever order the backoffice lists in."""
    return sorted(webhooks, key=lambda w: w.name)


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

"""API tokens and the audit log as people read them (``webhooks token list``,
``webhooks audit``): plain tables, every cell safe for a terminal.

Nothing here reaches a backoffice or prints. A token list never holds a token or its
hash (the backoffice never returns them), nor an audit entry a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.render.terminal import printable

TOKEN_COLUMNS = ("id", "name", "scope", "status", "created", "last used", "expires",
                 "revoked")
AUDIT_COLUMNS = ("at", "who", "action", "target", "fields", "outcome", "note")
NONE = "-"


def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain table: a header of ``columns`` upper-cased, cells padded, no trailing space."""
    header = tuple(c.upper() for c in columns)
    cells = [tuple(printable(NONE if c is None or c == "" else str(c)) for c in row)
             for row in rows]
    widths = [max(len(r[i]) for r in (header, *cells)) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in (header, *cells)]
    return "\n".join(lines) + "\n"


def render_tokens(tokens: Sequence[Mapping[str, Any]]) -> str:
    """The merchant's tokens, newest first; never a token."""
    if not tokens:
        return "No tokens yet: create one with `webhooks token create --name NAME --scope read`.\n"
    return table(TOKEN_COLUMNS, [
        (t.get("id"), t.get("name"), t.get("scope"), t.get("status"), t.get("created_at"),
         t.get("last_used_at"), t.get("expires_at") or "never", t.get("revoked_at"))
        for t in tokens])


def who(entry: Mapping[str, Any]) -> str:
    """The actor: a token's name and id, or the local operator."""
    token_id = entry.get("actor_token_id")
    name = str(entry.get("actor") or "?")
    return f"{name} ({token_id})" if token_id else name


def render_audit(entries: Sequence[Mapping[str, Any]], *, since: str | None) -> str:
    """The audit log, newest first."""
    if not entries:
        return printable(f"No audit entries since {since}.") + "\n" if since else \
            "No audit entries yet.\n"
    rows = []
    for e in entries:
        fields = e.get("fields") or []
        rows.append((e.get("at"), who(e), e.get("action"),
                     e.get("target_name") or e.get("target_id"),
                     ", ".join(str(f) for f in fields) if isinstance(fields, list) else fields,
                     f"{e.get('outcome')} {e.get('status')}", e.get("note")))
    return table(AUDIT_COLUMNS, rows)

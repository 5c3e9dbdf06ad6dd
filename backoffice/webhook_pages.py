"""The Webhooks list as the API's JSON, each webhook serialised once per version.

A webhook's public body changes only with its version (every write bumps it, and ids
are never reused), so its JSON is kept under (id, version): a page then reads only
(pk, id, version) for its rows, fetches the rows it has not serialised yet, and joins
bytes. A write in another process is seen as soon as it commits: the page reads the
versions every time. The bytes are what ``pydantic_core.to_json`` makes of the page
``Webhooks.list_webhooks`` returns (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from pydantic_core import to_json
from sqlalchemy import Connection

from backoffice import applied
from backoffice.db import webhook_queries as q

# Webhook bodies kept at most (about 0.5 KB each); past it the cache starts over.
PAGE_CACHE_ENTRIES: Final = 50_000
_VERSION: Final = q.PAGE_COLUMNS.index("version")


def public_rows(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """``webhooks.public`` of each row of a list page (``PAGE_COLUMNS``, then the
    notifications), built straight from the row: the same keys in the same order."""
    return [
        {
            "id": id_, "name": name, "type": type_, "url": url, "url_fingerprint": url_fp,
            "email": email,
            "application": kind if ref is None else f"{kind}:{ref}",
            "notifications": sorted(notifications.split(",")) if notifications else [],
            "support_email": support, "format": fmt, "enabled": enabled,
            "description": description, "secret_fingerprint": secret_fp, "labels": labels,
            "version": version, "created_at": created, "updated_at": updated,
            "applied": applied.public(*last_applied),
        }
        for (_pk, id_, name, type_, url, url_fp, email, kind, ref, support, fmt, enabled,
             description, secret_fp, labels, version, created, updated, *last_applied,
             notifications) in rows
    ]


class PageCache:
    """Serialised webhook bodies by (id, version), shared by every merchant's pages (ids
    are unique, and a page lists only its merchant's ids)."""

    def __init__(self, max_entries: int = PAGE_CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._bodies: dict[tuple[str, int], bytes] = {}

    def page(self, conn: Connection, merchant_id: str, versions: Sequence[Sequence[Any]],
             next_cursor: str | None) -> bytes:
        """``{"data": [...], "next_cursor": ...}`` for the merchant's (pk, id, version)
        rows given."""
        bodies = self._bodies
        parts = [bodies.get((id_, version)) for _pk, id_, version in versions]
        missing = [row[0] for row, part in zip(versions, parts, strict=True) if part is None]
        if missing:
            fresh = {row[0]: row for row in q.page_rows(conn, merchant_id, missing)}
            for i, row in enumerate(versions):
                if parts[i] is None and (found := fresh.get(row[0])) is not None:
                    # the row as read now (on PostgreSQL, maybe a version newer)
                    parts[i] = self._keep(found)
        return b"".join((b'{"data":[', b",".join(p for p in parts if p is not None),
                         b'],"next_cursor":', to_json(next_cursor), b"}"))

    def _keep(self, row: Sequence[Any]) -> bytes:
        body = to_json(public_rows([row])[0])
        if len(self._bodies) >= self.max_entries:
            self._bodies.clear()
        self._bodies[(row[1], row[_VERSION])] = body
        return body

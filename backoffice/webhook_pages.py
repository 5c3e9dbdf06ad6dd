"""The Webhooks list as the API's JSON, each webhook serialised once per version.

A webhook's public body changes only with its version (every write bumps it, and ids
are never reused), so its JSON is kept under (id, version): a page then reads only
(pk, id, version) for its rows, fetches the rows it has not serialised yet, and joins
bytes. A write in another process is seen as soon as it commits: the page reads the
versions every time. The bytes are what ``pydantic_core.to_json`` makes of the page
``Webhooks.list_webhooks`` returns (a test compares them).

One thing changes without a write: a rotation's previous secret stops being shown when
its grace ends. So a webhook with a previous secret is serialised afresh on every page
(``rotation.public_fields`` at the page's moment) and never kept; the worker soon
forgets ended graces, and such a webhook is kept again from then on.

Whole pages are kept too, the last one of each query (merchant, filters, cursor): when
the page's (pk, id, version) rows are the ones it was built from, its bytes are the
answer as they are. A page holding a webhook with a previous secret is never kept.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Final

from pydantic_core import to_json
from sqlalchemy import Connection

from backoffice import applied, cursors, rotation, rules
from backoffice.db import merchant_queries as mq
from backoffice.db import webhook_queries as q
from backoffice.db.webhook_queries import WebhookRecord
from backoffice.errors import Invalid
from backoffice.kept import Kept
from backoffice.merchants import require_merchant
from contract.rules import unsafe_character_problem

# Webhook bodies kept (about 0.5 KB each, up to ~24 KB at every field's limit) and whole
# pages (about 0.7 MB for 1,000 webhooks): past either bound in number or bytes, the
# store starts over (``backoffice.kept``).
BODIES_KEPT: Final = 50_000
BODY_BYTES_KEPT: Final = 32 * 2**20
PAGES_KEPT: Final = 16
PAGE_BYTES_KEPT: Final = 16 * 2**20
MAX_PAGE: Final = 1000  # webhooks per page of the list, at most
_VERSION: Final = q.PAGE_COLUMNS.index("version")
_PREVIOUS: Final = q.PAGE_COLUMNS.index("previous_secret_until")


def public_rows(rows: Sequence[Sequence[Any]], now: str) -> list[dict[str, Any]]:
    """``public`` of each row of a list page (``PAGE_COLUMNS``, then the notifications)
    at ``now``, built straight from the row: the same keys in the same order."""
    return [
        {
            "id": id_, "name": name, "type": type_, "url": url, "url_fingerprint": url_fp,
            "email": email,
            "application": kind if ref is None else f"{kind}:{ref}",
            "notifications": sorted(notifications.split(",")) if notifications else [],
            "support_email": support, "format": fmt, "enabled": enabled,
            "description": description, "secret_fingerprint": secret_fp, "labels": labels,
            "version": version, "created_at": created, "updated_at": updated,
            **rotation.public_fields(fmt, weak, previous_fp, until, acknowledged, now),
            "applied": applied.public(*last_applied),
        }
        for (_pk, id_, name, type_, url, url_fp, email, kind, ref, support, fmt, enabled,
             description, secret_fp, labels, version, created, updated, weak, previous_fp,
             until, acknowledged, *last_applied, notifications) in rows
    ]


class PageCache:
    """Serialised webhook bodies by (id, version), shared by every merchant's pages (ids
    are unique, and a page lists only its merchant's ids)."""

    def __init__(self) -> None:
        self.bodies: Kept[bytes] = Kept(max_entries=BODIES_KEPT, max_bytes=BODY_BYTES_KEPT)
        # query -> (the rows it was built from, its next cursor, the page's bytes)
        self.pages: Kept[tuple[list[tuple[Any, ...]], str | None, bytes]] = Kept(
            max_entries=PAGES_KEPT, max_bytes=PAGE_BYTES_KEPT)

    def page(self, conn: Connection, merchant_id: str, versions: list[tuple[Any, ...]],
             next_cursor: str | None, *, now: str, query: Hashable = None) -> bytes:
        """``{"data": [...], "next_cursor": ...}`` for the merchant's (pk, id, version)
        rows given, as they are at ``now``; ``query`` names the request that listed them
        (the merchant, the filters, the cursor), whose last page is kept."""
        if query is not None and (kept := self.pages.get(query)) is not None \
                and kept[0] == versions and kept[1] == next_cursor:
            return kept[2]
        bodies = self.bodies
        parts = [bodies.get((id_, version)) for _pk, id_, version in versions]
        missing = [row[0] for row, part in zip(versions, parts, strict=True) if part is None]
        keep = True
        if missing:
            fresh = {row[0]: row for row in q.page_rows(conn, merchant_id, missing)}
            for i, row in enumerate(versions):
                if parts[i] is None and (found := fresh.get(row[0])) is not None:
                    # the row as read now (on PostgreSQL, maybe a version newer)
                    parts[i], kept_body = self._keep(found, now)
                    keep = keep and kept_body and found[_VERSION] == row[2]
        present = [part for part in parts if part is not None]
        keep = keep and len(present) == len(parts)
        tail = b'],"next_cursor":' + to_json(next_cursor) + b"}"
        if present:  # one copy of the bodies: the brackets go on the first and the last
            present[0] = b'{"data":[' + present[0]
            present[-1] = present[-1] + tail
            page = b",".join(present)
        else:
            page = b'{"data":[' + tail
        if query is not None and keep:
            self.pages.put(query, (versions, next_cursor, page), len(page))
        return page

    def _keep(self, row: Sequence[Any], now: str) -> tuple[bytes, bool]:
        """The row's body, and whether it is kept (not when it shows a previous secret)."""
        body = to_json(public_rows([row], now)[0])
        if row[_PREVIOUS] is not None:
            return body, False  # shown differently once the grace ends: not kept
        return body, self.bodies.put((row[1], row[_VERSION]), body, len(body))


def public(record: WebhookRecord, now: str) -> dict[str, Any]:
    """A webhook as the API returns it at ``now``: never the secret, only its fingerprint
    (and the previous one's while it is valid); the URL with any credentials redacted,
    and their fingerprint."""
    return {
        "id": record.id, "name": record.name, "type": record.type,
        "url": record.url, "url_fingerprint": record.url_fingerprint,
        "email": record.email, "application": record.application,
        "notifications": list(record.notifications), "support_email": record.support_email,
        "format": record.format, "enabled": record.enabled, "description": record.description,
        "secret_fingerprint": record.secret_fingerprint, "labels": dict(record.labels),
        "version": record.version,
        "created_at": record.created_at, "updated_at": record.updated_at,
        **rotation.public_fields(record.format, record.secret_weak,
                                 record.previous_secret_fingerprint,
                                 record.previous_secret_until, record.secret_acknowledged,
                                 now),
        "applied": applied.public(record.applied_digest, record.applied_revision,
                                  record.applied_owner, record.applied_at,
                                  record.applied_state),
    }


def list_filters(notification: str | None, type: str | None, webhook: str | None, limit: int,
             cursor: str | None) -> dict[str, Any]:
    """The list's arguments checked, as the list queries take them (one row past the page)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    after = cursors.decode("v1", cursor, start="the first page") if cursor is not None else 0
    if notification is not None:
        notification = rules.notification_type("notification", notification)
    if type is not None:
        type = rules.webhook_type(type)
    if webhook is not None and len(webhook) > rules.MAX_SEARCH:
        raise Invalid(f"webhook is too long (at most {rules.MAX_SEARCH} characters)")
    if webhook is not None and (problem := unsafe_character_problem(webhook)) is not None:
        # No stored URL or address holds one; SQLite's LIKE would stop at a NUL and
        # match everything.
        raise Invalid(f"webhook {problem}")
    return {"after_pk": after, "limit": limit + 1, "notification": notification,
            "type": type, "text": webhook or None}


def covering(conn: Connection, merchant_id: str,
              credential: str | None) -> tuple[str, str] | None:
    """The merchant must exist; a credential filter becomes (its terminal, that store)."""
    require_merchant(conn, merchant_id)
    if credential is None:
        return None
    terminal_id = mq.credential_terminal(conn, merchant_id, credential)
    store_code = None if terminal_id is None else mq.terminal_store(conn, merchant_id,
                                                                     terminal_id)
    if terminal_id is None or store_code is None:
        raise Invalid(f"credential {credential[:64]!r} is not one of this merchant's")
    return (terminal_id, store_code)

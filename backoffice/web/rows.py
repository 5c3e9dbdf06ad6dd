"""The rows of the Webhooks list, each rendered once and kept.

A webhook's row changes only with its version (every write bumps it, and ids are never
reused), the page's language and whether the visitor may manage (the Test link): so a
row is kept under (id, version, language, may manage), and a page of 1,000 webhooks
joins kept rows, as the API's list joins kept JSON (``backoffice.webhook_pages``). The
webhooks' (pk, id, version) are read fresh for every page, so a change made anywhere
shows at once; and, as the API keeps each query's last page, the joined rows of the last
page of each (merchant, language, may manage, query) are kept, answered as they are
while the page's (pk, id, version) rows are the same.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping, Sequence
from typing import Final

from backoffice.kept import Kept
from backoffice.web.render import Visit, environment
from backoffice.web.views import webhook_view

# Rows kept (about 1 KB each) and joined pages (about 1 MB for 1,000 rows): past either
# bound in number or bytes, the store starts over (``backoffice.kept``).
ROWS_KEPT: Final = 50_000
ROW_BYTES_KEPT: Final = 32 * 2**20
PAGES_KEPT: Final = 16
PAGE_BYTES_KEPT: Final = 16 * 2**20


class RowCache:
    def __init__(self) -> None:
        self.rows_kept: Kept[str] = Kept(max_entries=ROWS_KEPT, max_bytes=ROW_BYTES_KEPT)
        # (merchant, language, may manage, query) -> (the rows listed, the joined rows)
        self.pages: Kept[tuple[list[tuple[int, str, int]], bytes]] = Kept(
            max_entries=PAGES_KEPT, max_bytes=PAGE_BYTES_KEPT)

    def rows(self, visit: Visit, merchant_id: str, versions: list[tuple[int, str, int]],
             labels: Mapping[str, str], *, query: Hashable = None) -> bytes:
        """The table rows of the listed (pk, id, version) webhooks, as the visitor sees
        them (autoescaped), as UTF-8 to splice into the page (``render.page``); the
        webhooks without a kept row are read, by key, at once. ``query`` names the
        request (filters, limit, cursor) whose last page is kept."""
        lang, manage = visit.lang, visit.can_manage
        page_key = None if query is None else (merchant_id, lang, manage, query)
        if page_key is not None and (page := self.pages.get(page_key)) is not None \
                and page[0] == versions:
            return page[1]
        joined, complete = self._join(visit, merchant_id, versions, labels)
        if complete and page_key is not None:
            self.pages.put(page_key, (versions, joined), len(joined))
        return joined

    def _join(self, visit: Visit, merchant_id: str, versions: Sequence[tuple[int, str, int]],
              labels: Mapping[str, str]) -> tuple[bytes, bool]:
        """The rows joined, and whether each is the listed version (not gone, not newer)."""
        lang, manage = visit.lang, visit.can_manage
        kept = self.rows_kept
        parts = [kept.get((id_, version, lang, manage)) for _pk, id_, version in versions]
        missing = [pk for (pk, _, _), part in zip(versions, parts, strict=True) if part is None]
        complete = True
        if missing:
            fresh = visit.office.webhooks.webhooks_by_pk(merchant_id, missing)
            template = environment().get_template("_row.html")
            for i, (pk, _id, version) in enumerate(versions):
                if parts[i] is None and (webhook := fresh.get(pk)) is not None:
                    # kept under the version as read now (it may be newer than listed)
                    parts[i] = self._keep(template.render(
                        w=webhook_view(webhook, labels), t=visit.t, can_manage=manage),
                        (webhook["id"], webhook["version"], lang, manage))
                    complete = complete and webhook["version"] == version
        present = [part for part in parts if part is not None]
        return "".join(present).encode(), complete and len(present) == len(parts)

    def _keep(self, row: str, key: tuple[str, int, str, bool]) -> str:
        self.rows_kept.put(key, row, sys.getsizeof(row))
        return row

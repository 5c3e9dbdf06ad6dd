"""The rows of the Webhooks list, each rendered once and kept.

A webhook's row changes only with its version (every write bumps it, and ids are never
reused), the page's language and whether the visitor may manage (the Test link): so a
row is kept under (id, version, language, may manage), and a page of 1,000 webhooks
joins kept rows, as the API's list joins kept JSON (``backoffice.webhook_pages``). The
webhooks themselves are read fresh for every page, so a change made anywhere shows at
once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from markupsafe import Markup

from backoffice.web.render import Visit, environment
from backoffice.web.views import webhook_view

ROW_CACHE_ENTRIES: Final = 50_000  # about 1 KB each; past it the cache starts over


class RowCache:
    def __init__(self, max_entries: int = ROW_CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._rows: dict[tuple[str, int, str, bool], str] = {}

    def rows(self, visit: Visit, merchant_id: str, versions: Sequence[tuple[int, str, int]],
             labels: Mapping[str, str]) -> Markup:
        """The table rows of the listed (pk, id, version) webhooks, as the visitor sees
        them (autoescaped); the webhooks without a kept row are read, by key, at once."""
        lang, manage = visit.lang, visit.can_manage
        kept = self._rows
        parts = [kept.get((id_, version, lang, manage)) for _pk, id_, version in versions]
        missing = [pk for (pk, _, _), part in zip(versions, parts, strict=True) if part is None]
        if missing:
            fresh = visit.office.webhooks.webhooks_by_pk(merchant_id, missing)
            template = environment().get_template("_row.html")
            for i, (pk, _id, _version) in enumerate(versions):
                if parts[i] is None and (webhook := fresh.get(pk)) is not None:
                    # kept under the version as read now (it may be newer than listed)
                    parts[i] = self._keep(template.render(
                        w=webhook_view(webhook, labels), t=visit.t, can_manage=manage),
                        (webhook["id"], webhook["version"], lang, manage))
        return Markup("".join(part for part in parts if part is not None))

    def _keep(self, row: str, key: tuple[str, int, str, bool]) -> str:
        if len(self._rows) >= self.max_entries:
            self._rows.clear()
        self._rows[key] = row
        return row

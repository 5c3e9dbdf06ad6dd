"""The pages that read: the Webhooks list with its four filters, a webhook's details, and
its deliveries with their attempts."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from backoffice.auth import READ
from backoffice.errors import Invalid
from backoffice.web.access import Form, serve
from backoffice.web.render import Visit, page
from backoffice.web.rows import RowCache
from backoffice.web.views import (
    application_label,
    catalog_of,
    merchant_of,
    type_labels,
    webhook_view,
)

router = APIRouter(include_in_schema=False)
FILTERS: Final = ("credential", "notification", "type", "webhook")
PAGE_SIZE: Final = 50
MAX_PAGE: Final = 1000
DELIVERIES_PAGE: Final = 20


def _limit(text: str | None, default: int) -> int:
    if text and text.isascii() and text.isdigit() and len(text) <= 4:
        return max(1, min(MAX_PAGE, int(text)))
    return default


def list_page(visit: Visit, _: Form) -> Response:
    query = visit.request.query_params
    filters = {name: query.get(name, "").strip() or None for name in FILTERS}
    limit = _limit(query.get("limit"), PAGE_SIZE)
    cursor = query.get("cursor") or None
    catalog = catalog_of(visit)
    labels = type_labels(catalog)
    problem, rows, next_link = None, b"", None
    try:
        merchant = merchant_of(visit)
        versions, next_cursor = visit.office.webhooks.list_versions(
            merchant, limit=limit, cursor=cursor, **filters)
        cache: RowCache = visit.request.app.state.web_rows
        rows = cache.rows(visit, merchant, versions, labels,
                          query=(tuple(filters.items()), limit, cursor))
        if next_cursor is not None:
            kept = {k: v for k, v in filters.items() if v}
            if limit != PAGE_SIZE:
                kept["limit"] = str(limit)
            next_link = "/webhooks?" + urlencode({**kept, "cursor": next_cursor})
    except Invalid as exc:
        problem = exc.detail
    return page(visit, "list.html", status=422 if problem else 200, has_rows=bool(rows),
                splice=rows if rows else None,
                filters={k: v or "" for k, v in filters.items()}, catalog=catalog,
                labels=labels, problem=problem, next_link=next_link,
                filtered=any(filters.values()), done=query.get("done", ""))


def details_page(visit: Visit, _: Form) -> Response:
    webhook_id = visit.request.path_params["webhook_id"]
    webhook = visit.office.webhooks.get_webhook(merchant_of(visit), webhook_id)
    catalog = catalog_of(visit)
    view = webhook_view(webhook, type_labels(catalog))
    return page(visit, "details.html", w=view,
                application=application_label(visit, webhook["application"], catalog),
                done=visit.request.query_params.get("done", ""))


def deliveries_page(visit: Visit, _: Form) -> Response:
    webhook_id = visit.request.path_params["webhook_id"]
    merchant = merchant_of(visit)
    webhook = visit.office.webhooks.get_webhook(merchant, webhook_id)
    cursor = visit.request.query_params.get("cursor") or None
    found: dict[str, Any] = visit.office.delivery_log.list_deliveries(
        merchant, webhook=webhook_id, limit=DELIVERIES_PAGE, cursor=cursor)
    next_link = (f"/webhooks/{webhook_id}/deliveries?"
                 + urlencode({"cursor": found["next_cursor"]})
                 if found["next_cursor"] else None)
    labels = type_labels(catalog_of(visit))
    return page(visit, "deliveries.html", w=webhook_view(webhook, labels),
                deliveries=found["data"], labels=labels, next_link=next_link)


@router.get("/webhooks")
async def webhooks(request: Request) -> Response:
    return await serve(request, list_page, need=READ)


@router.get("/webhooks/{webhook_id}")
async def details(request: Request) -> Response:
    return await serve(request, details_page, need=READ)


@router.get("/webhooks/{webhook_id}/deliveries")
async def deliveries(request: Request) -> Response:
    return await serve(request, deliveries_page, need=READ)

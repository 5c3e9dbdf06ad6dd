"""The pages that change a webhook or send to it (manage only): edit (pencil, then save),
delete (with a confirmation), and test (the sent notification, headers and answer).

A webhook a config manages asks for one more confirmation, naming its owner: a change
here is drift that the config's next apply reverts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from backoffice.auth import MANAGE
from backoffice.errors import Invalid, PreconditionFailed
from backoffice.http.testfires import FireGate
from backoffice.web.access import Form, error_page, first, serve
from backoffice.web.render import NO_STORE, Visit, page, redirect
from backoffice.web.views import (
    actor_of,
    application_options,
    catalog_of,
    merchant_of,
    type_labels,
    webhook_view,
)
from contract import formats
from contract.urls import has_credentials

router = APIRouter(include_in_schema=False)


def _webhook(visit: Visit) -> dict[str, Any]:
    webhook_id = visit.request.path_params["webhook_id"]
    return visit.office.webhooks.get_webhook(merchant_of(visit), webhook_id)


def _version(form: Form) -> int | None:
    text = first(form, "version")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def patch_from(form: Form, current: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the form changed (only those: a URL shown redacted stays as it is)."""
    patch: dict[str, Any] = {}
    fields = ["application", "support_email", "description"]
    fields += ["url", "format"] if current["type"] == "url" else ["email"]
    for name in fields:
        typed = first(form, name).strip()
        if name == "support_email":
            if (typed or None) != current[name]:
                patch[name] = typed or None  # emptied: no support e-mail any more
        elif typed != (current[name] or ""):
            patch[name] = typed
    notifications = form.get("notifications", [])
    if notifications != list(current["notifications"]):
        patch["notifications"] = notifications
    enabled = first(form, "enabled") == "on"
    if enabled != current["enabled"]:
        patch["enabled"] = enabled
    if current["type"] == "url" and first(form, "secret"):
        patch["secret"] = first(form, "secret")
    return patch


def _edit(visit: Visit, webhook: dict[str, Any], *, status: int = 200,
          typed: Mapping[str, Any] | None = None, problem: str | None = None) -> Response:
    catalog = catalog_of(visit)
    shown = dict(webhook)
    for name, value in (typed or {}).items():
        if name == "secret" or (name == "url" and isinstance(value, str)
                                and has_credentials(value)):
            continue  # never sent back into a page
        shown[name] = value
    return page(visit, "edit.html", status=status,
                w=webhook_view(webhook, type_labels(catalog)), shown=shown,
                applications=application_options(visit, catalog), catalog=catalog,
                formats=formats.NAMES, problem=problem)


def edit_page(visit: Visit, _: Form) -> Response:
    return _edit(visit, _webhook(visit))


def save(visit: Visit, form: Form) -> Response:
    webhook = _webhook(visit)
    patch = patch_from(form, webhook)
    view = webhook_view(webhook, {})
    if view["owner"] and first(form, "drift_ok") != "yes":
        return _edit(visit, webhook, status=409, typed=patch,
                     problem=visit.t("managed.confirm_needed", owner=view["owner"]))
    if not patch:
        return redirect(visit, f"/webhooks/{webhook['id']}?done=unchanged")
    try:
        visit.office.webhooks.update_webhook(merchant_of(visit), webhook["id"], patch,
                                             if_match=_version(form), actor=actor_of(visit))
    except PreconditionFailed:
        return _edit(visit, webhook, status=412, problem=visit.t("edit.changed"))
    except Invalid as exc:
        return _edit(visit, webhook, status=422, typed=patch, problem=exc.detail)
    return redirect(visit, f"/webhooks/{webhook['id']}?done=saved")


def delete_page(visit: Visit, _: Form) -> Response:
    return page(visit, "delete.html", w=webhook_view(_webhook(visit), {}), problem=None)


def delete(visit: Visit, form: Form) -> Response:
    webhook = webhook_view(_webhook(visit), {})
    if webhook["owner"] and first(form, "drift_ok") != "yes":
        return page(visit, "delete.html", status=409, w=webhook,
                    problem=visit.t("managed.confirm_needed", owner=webhook["owner"]))
    try:
        visit.office.webhooks.delete_webhook(merchant_of(visit), webhook["id"],
                                             if_match=_version(form), actor=actor_of(visit))
    except PreconditionFailed:
        return page(visit, "delete.html", status=412, w=webhook,
                    problem=visit.t("edit.changed"))
    return redirect(visit, "/webhooks?done=deleted")


async def test_page(visit: Visit, _: Form) -> Response:
    webhook = await run_in_threadpool(_webhook, visit)
    if webhook["type"] != "url":
        return error_page(visit, 422, key="test.email_has_none")
    catalog = await run_in_threadpool(catalog_of, visit)
    return page(visit, "test.html", w=webhook_view(webhook, type_labels(catalog)),
                result=None, chosen=webhook["notifications"][0])


async def test_fire(visit: Visit, form: Form) -> Response:
    """The test-fire the API's POST .../test runs, through the same per-merchant gate."""
    webhook = await run_in_threadpool(_webhook, visit)
    if webhook["type"] != "url":
        return error_page(visit, 422, key="test.email_has_none")
    catalog = await run_in_threadpool(catalog_of, visit)
    chosen = first(form, "notification") or None
    gate = cast(FireGate, visit.request.app.state.test_fires)
    merchant = merchant_of(visit)
    async with gate.slot(merchant):
        result = await gate.run(lambda: visit.office.deliveries.test_webhook(
            merchant, webhook["id"], notification_type=chosen, actor=actor_of(visit)))
    return page(visit, "test.html", cache=NO_STORE, w=webhook_view(webhook, type_labels(catalog)),
                result=result, chosen=chosen or webhook["notifications"][0])


@router.get("/webhooks/{webhook_id}/edit")
async def edit_form(request: Request) -> Response:
    return await serve(request, edit_page, need=MANAGE)


@router.post("/webhooks/{webhook_id}/edit")
async def edit_save(request: Request) -> Response:
    return await serve(request, save, need=MANAGE, post=True)


@router.get("/webhooks/{webhook_id}/delete")
async def delete_confirm(request: Request) -> Response:
    return await serve(request, delete_page, need=MANAGE)


@router.post("/webhooks/{webhook_id}/delete")
async def delete_now(request: Request) -> Response:
    return await serve(request, delete, need=MANAGE, post=True)


@router.get("/webhooks/{webhook_id}/test")
async def test_form(request: Request) -> Response:
    return await serve(request, test_page, need=MANAGE)


@router.post("/webhooks/{webhook_id}/test")
async def test_now(request: Request) -> Response:
    return await serve(request, test_fire, need=MANAGE, post=True)

"""The REST API (FastAPI): HTTP in, calls to the ``Backoffice``'s parts, HTTP out. No rules
live here."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, FastAPI, Header, Path, Query, Request, Response
from fastapi.openapi.utils import get_openapi

from backoffice import audit, web
from backoffice.auth import Principal
from backoffice.delivery.worker import DeliveryWorker
from backoffice.errors import BadRequest, Invalid, PreconditionFailed
from backoffice.facade import Backoffice
from backoffice.http import (
    audit_api,
    bodies,
    fingerprint_key,
    identity,
    ops,
    secrets_api,
    tokens_api,
)
from backoffice.http.deps import Manager, Office, Reader, WebhookId, audited, errors
from backoffice.http.problems import (
    PROBLEM_JSON,
    BodyLimitMiddleware,
    RequestTimingMiddleware,
    install_problem_handlers,
    log_request,
)
from backoffice.http.responses import json_response
from backoffice.http.strict_json import StrictJSONRoute
from backoffice.http.testfires import DEFAULT_PER_MERCHANT, FireGate

MAX_BODY_BYTES = 1 << 20
API_VERSION = "1.0.0"

_ETAG = {"ETag": {"description": 'The webhook\'s version, e.g. "3"', "schema": {"type": "string"}}}


def etag(webhook: dict[str, Any]) -> str:
    return f'"{webhook["version"]}"'


def parse_if_match(value: str | None) -> list[int] | None:
    """The versions an If-Match names; None for no precondition (absent or ``*``).

    Weak tags (``W/"3"``) are accepted as their strong version; a quoted tag that is
    not a version number matches nothing, so it fails with 412 as RFC 9110 says.
    """
    if value is None or value.strip() == "*":
        return None
    versions = []
    for part in value.split(","):
        tag = part.strip().removeprefix("W/")
        if len(tag) < 2 or tag[0] != '"' or tag[-1] != '"':
            raise BadRequest('If-Match must be an entity tag such as "3" (the ETag of a GET)')
        inner = tag[1:-1]
        if inner.isascii() and inner.isdigit() and len(inner) <= 18:
            versions.append(int(inner))
    return versions


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` -> X: a query or header value is absent or text, never null."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b.get("type") != "null"]
    if len(kept) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}


class BackofficeAPI(FastAPI):
    """FastAPI whose OpenAPI document says what goes over the wire: errors are
    application/problem+json, and optional parameters are absent rather than null."""

    def openapi(self) -> dict[str, Any]:
        if not self.openapi_schema:
            schema = get_openapi(title=self.title, version=self.version,
                                 description=self.description, routes=self.routes)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", []):
                        parameter["schema"] = _not_null(parameter["schema"])
                    for code, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if code.isdigit() and int(code) >= 400 and "application/json" in content:
                            response["content"] = {PROBLEM_JSON: content["application/json"]}
            self.openapi_schema = schema
        return self.openapi_schema


IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=1000)]


def _if_match_version(office: Backoffice, principal: Principal, webhook_id: str,
                      header: str | None) -> int | None:
    versions = parse_if_match(header)
    if versions is None or len(versions) == 1:
        return None if versions is None else versions[0]
    # Several tags, or none naming a version: match any. The webhooks part checks again
    # inside its transaction, so a change in between still fails with 412.
    current = int(office.webhooks.get_webhook(principal.merchant_id, webhook_id)["version"])
    if current in versions:
        return current
    raise PreconditionFailed(f"the webhook is at version {current}, which If-Match does not "
                             "name: it changed since it was read; read it again and retry")


# What routers in other modules of this package share with this one.
if_match_version = _if_match_version

router = APIRouter(route_class=StrictJSONRoute)  # a key twice in a JSON body: 400


@router.get("/healthz", response_model=bodies.Health, tags=["health"])
async def healthz() -> dict[str, str]:
    """Liveness, needs no token: 200 while the process serves (readiness: /readyz)."""
    return {"status": "ok"}


@router.get("/v1/webhooks", response_model=bodies.WebhookPage, tags=["webhooks"],
            responses=errors(401, 422, 503))
def list_webhooks(office: Office, principal: Reader, request: Request,
                  query: Annotated[bodies.ListQuery, Query()]) -> Response:
    """The Webhooks list with the Backoffice's four filters, in pages."""
    names = [name for name, _ in request.query_params.multi_items()]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        # FastAPI would keep one of them; which one the client meant is unknowable.
        raise Invalid(f"query.{repeated[0]}: give this parameter once")
    page = office.webhooks.list_json(principal.merchant_id, **query.model_dump())
    return Response(page, media_type="application/json")


@router.post("/v1/webhooks", status_code=201, response_model=bodies.Webhook, tags=["webhooks"],
             responses={201: {"headers": {**_ETAG, "Location": {"schema": {"type": "string"}}}},
                        **errors(400, 401, 403, 409, 413, 422, 503)},
             **audited(audit.WEBHOOK_CREATE))
def create_webhook(
    office: Office, principal: Manager, body: bodies.WebhookCreate,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", min_length=1, max_length=255,
        description="Repeat with the same body to get the first result back")] = None,
) -> Response:
    """Create a webhook (needs webhooks:manage)."""
    created = office.webhooks.create_webhook(
        principal.merchant_id, body.model_dump(exclude_unset=True),
        idempotency_key=idempotency_key, actor=principal.actor)
    return json_response(created, status_code=201, headers={
        "ETag": etag(created), "Location": f"/v1/webhooks/{created['id']}"})


@router.get("/v1/webhooks/{webhook_id}", response_model=bodies.Webhook, tags=["webhooks"],
            responses={200: {"headers": _ETAG}, **errors(401, 404, 422, 503)})
def get_webhook(office: Office, principal: Reader, webhook_id: WebhookId) -> Response:
    """One webhook, with its version as ETag."""
    found = office.webhooks.get_webhook(principal.merchant_id, webhook_id)
    return json_response(found, headers={"ETag": etag(found)})


@router.patch("/v1/webhooks/{webhook_id}", response_model=bodies.Webhook, tags=["webhooks"],
              responses={200: {"headers": _ETAG},
                         **errors(400, 401, 403, 404, 412, 413, 422, 503)},
              **audited(audit.WEBHOOK_UPDATE))
def update_webhook(office: Office, principal: Manager, webhook_id: WebhookId,
                   body: bodies.WebhookPatch, if_match: IfMatch = None) -> Response:
    """Change some fields (needs webhooks:manage); If-Match guards against lost updates."""
    version = _if_match_version(office, principal, webhook_id, if_match)
    updated = office.webhooks.update_webhook(principal.merchant_id, webhook_id,
                                             body.model_dump(exclude_unset=True),
                                             if_match=version, actor=principal.actor)
    return json_response(updated, headers={"ETag": etag(updated)})


@router.delete("/v1/webhooks/{webhook_id}", status_code=204, response_class=Response,
               tags=["webhooks"], responses=errors(400, 401, 403, 404, 412, 422, 503),
               **audited(audit.WEBHOOK_DELETE))
def delete_webhook(office: Office, principal: Manager, webhook_id: WebhookId,
                   if_match: IfMatch = None) -> Response:
    """Delete a webhook (needs webhooks:manage)."""
    version = _if_match_version(office, principal, webhook_id, if_match)
    office.webhooks.delete_webhook(principal.merchant_id, webhook_id, if_match=version,
                                   actor=principal.actor)
    return Response(status_code=204)


@router.get("/v1/catalog", response_model=bodies.Catalog, tags=["catalog"],
            responses=errors(401, 503))
def get_catalog(office: Office, principal: Reader) -> dict[str, Any]:
    """Notification types, the merchant's stores, terminals and credentials, and this
    backoffice's policy on targets."""
    return {**office.merchants.catalog(principal.merchant_id),
            "policy": office.webhooks.policy()}


@router.post("/v1/webhooks/{webhook_id}/test", response_model=bodies.TestResult,
             tags=["deliveries"],
             responses=errors(400, 401, 403, 404, 413, 422, 429, 503),
             **audited(audit.WEBHOOK_TEST))
async def test_webhook(office: Office, principal: Manager, webhook_id: WebhookId,
                       request: Request,
                       body: bodies.TestRequest | None = None) -> dict[str, Any]:
    """Send one test notification to a URL webhook now (needs webhooks:manage).

    200 with what happened, delivered or not; an e-mail webhook has no test (422).
    A merchant has a few test-fires in flight at most, and a number a minute (429 with
    Retry-After beyond).
    """
    gate = cast(FireGate, request.app.state.test_fires)
    notification = body.notification if body else None
    scenario = body.scenario if body else None
    async with gate.slot(principal.merchant_id):
        return await gate.run(lambda: office.deliveries.test_webhook(
            principal.merchant_id, webhook_id, notification_type=notification,
            scenario=scenario, actor=principal.actor))


@router.get("/v1/webhooks/{webhook_id}/deliveries", response_model=bodies.DeliveryPage,
            tags=["deliveries"], responses=errors(401, 404, 422, 503))
def list_deliveries(office: Office, principal: Reader, webhook_id: WebhookId,
                    query: Annotated[bodies.DeliveriesQuery, Query()]) -> dict[str, Any]:
    """The webhook's delivery log, newest first."""
    return {"data": office.deliveries.list_deliveries(principal.merchant_id, webhook_id,
                                                      limit=query.limit)}


@router.post("/v1/notifications", status_code=201, response_model=bodies.EmitResult,
             tags=["deliveries"], responses=errors(400, 401, 403, 413, 422, 429, 503),
             **audited(audit.NOTIFICATION_EMIT))
def emit_notification(office: Office, principal: Manager,
                      body: bodies.EmitRequest) -> dict[str, Any]:
    """Emit a payment notification (needs webhooks:manage): one pending delivery per
    enabled webhook that covers the terminal and subscribes to the type; the delivery
    worker sends them (at least once, unordered). A merchant has a number of emits a
    minute (429 with Retry-After beyond)."""
    return office.deliveries.emit_notification(principal.merchant_id,
                                               body.model_dump(exclude_unset=True),
                                               actor=principal.actor)



# --- the delivery log: attempts, resend, recover ---------------------------------------------

DeliveryId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/v1/deliveries", response_model=bodies.DeliveryLogPage, tags=["deliveries"],
            responses=errors(401, 404, 422, 503))
def list_delivery_log(office: Office, principal: Reader, request: Request,
                      query: Annotated[bodies.DeliveryLogQuery, Query()]) -> dict[str, Any]:
    """The merchant's deliveries across its webhooks, newest first, each with its
    attempts; the filters combine; pages follow next_cursor."""
    names = [name for name, _ in request.query_params.multi_items()]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise Invalid(f"query.{repeated[0]}: give this parameter once")
    return office.delivery_log.list_deliveries(principal.merchant_id, **query.model_dump())


@router.get("/v1/deliveries/{delivery_id}", response_model=bodies.LoggedDelivery,
            tags=["deliveries"], responses=errors(401, 404, 422, 503))
def get_delivery(office: Office, principal: Reader, delivery_id: DeliveryId) -> dict[str, Any]:
    """One delivery with its attempts."""
    return office.delivery_log.get_delivery(principal.merchant_id, delivery_id)


@router.post("/v1/deliveries/{delivery_id}/resend", status_code=202,
             response_model=bodies.LoggedDelivery, tags=["deliveries"],
             responses={409: {"model": bodies.Problem,
                              "description": "The delivery is being attempted right now"},
                        **errors(401, 403, 404, 422, 503)},
             **audited(audit.DELIVERY_RESEND))
def resend_delivery(office: Office, principal: Manager,
                    delivery_id: DeliveryId) -> dict[str, Any]:
    """Attempt the delivery once more, now, whatever its status (needs webhooks:manage);
    its attempts so far are kept."""
    return office.delivery_log.resend(principal.merchant_id, delivery_id, actor=principal.actor)


@router.post("/v1/webhooks/{webhook_id}/recover", status_code=202,
             response_model=bodies.RecoverResult, tags=["deliveries"],
             responses=errors(400, 401, 403, 404, 413, 422, 503),
             **audited(audit.WEBHOOK_RECOVER))
def recover_deliveries(office: Office, principal: Manager, webhook_id: WebhookId,
                       body: bodies.RecoverRequest) -> dict[str, Any]:
    """Resend every failed or given-up delivery (not tests) of the webhook created since
    a moment (needs webhooks:manage); says how many."""
    return office.delivery_log.recover(principal.merchant_id, webhook_id, body.since,
                                       actor=principal.actor)


def create_app(backoffice: Backoffice, *, max_body_bytes: int = MAX_BODY_BYTES,
               test_fires_per_merchant: int = DEFAULT_PER_MERCHANT,
               worker: DeliveryWorker | None = None) -> FastAPI:
    """The backoffice's HTTP API over ``backoffice`` (which the caller opens and closes).

    ``test_fires_per_merchant``: test-fires a merchant may have in flight at once here.
    ``worker``: the delivery worker this process runs, if any (``/readyz`` checks it).
    """
    app = BackofficeAPI(
        title="Webhooks backoffice",
        version=API_VERSION,
        description=(
            "The Webhooks menu of a payment gateway backoffice, modelled on the SIBS "
            "Payment Gateway Backoffice. Authenticate with `Authorization: Bearer <token>` "
            "(`webhooks token create`). Errors are RFC 9457 application/problem+json."
        ),
        # No /docs: Swagger UI would load scripts from a CDN and inline, which the pages'
        # Content-Security-Policy refuses. The document itself is /openapi.json.
        docs_url=None, redoc_url=None, openapi_url="/openapi.json",
    )
    app.state.backoffice = backoffice
    app.state.test_fires = FireGate(per_merchant=test_fires_per_merchant)
    install_problem_handlers(app, on_refusal=audit_api.record_refusal)
    app.include_router(router)
    app.include_router(secrets_api.router)
    from backoffice.http.secret_routes import router as secret_router  # it imports this module

    app.include_router(secret_router)
    app.include_router(tokens_api.router)
    app.include_router(audit_api.router)
    app.include_router(identity.router)
    app.include_router(fingerprint_key.router)
    web.install(app, backoffice)  # the pages at /, beside the API
    metrics = ops.install(app, backoffice, worker)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    # Added last: outermost, so it sees every status (and the route, once routed).
    app.add_middleware(RequestTimingMiddleware, observers=(log_request, metrics.observe_request))
    return app

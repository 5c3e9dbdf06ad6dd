"""The API's audit log: reading it (``GET /v1/audit``, read scope, the caller's merchant
only), and recording the refusals of audited operations.

An operation is audited when its route carries ``deps.audited(action)``; the part it
calls records its success. A refusal answered by the problem handlers (403, 404, 409,
412, 422, 429...) is recorded here when the caller was authenticated: never a 401 (no
token, or a refused one: anyone can send those, so they are not recorded at all), and
at most ``audit.REFUSALS_PER_MINUTE`` a minute per token and process.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from backoffice.auth import Principal
from backoffice.facade import Backoffice
from backoffice.http import access_bodies as bodies
from backoffice.http.deps import AUDIT_ACTION, Office, Reader, errors, refuse_repeated
from backoffice.http.strict_json import StrictJSONRoute

router = APIRouter(tags=["audit"], route_class=StrictJSONRoute)
# A target id as the backoffice makes them; anything else in a path is not recorded.
_ID: Final = re.compile(r"(wh|dl|tok)_[A-Za-z0-9]{1,40}")


@router.get("/v1/audit", response_model=bodies.AuditPage, responses=errors(401, 422, 503))
def list_audit(office: Office, principal: Reader, request: Request,
               query: Annotated[bodies.AuditQuery, Query()]) -> dict[str, Any]:
    """The merchant's audit log, newest first: every write and refused attempt at one,
    with who, what (field names, never values), when and the outcome; pages follow
    next_cursor."""
    refuse_repeated(request)
    return office.audit.list_entries(principal.merchant_id, **query.model_dump())


async def record_refusal(request: Request, status: int, title: str) -> None:
    """The problem handlers' observer: record a refused audited operation."""
    if not 400 <= status < 500 or status == 401:
        return
    principal = getattr(request.state, "principal", None)
    route = request.scope.get("route")
    action = (getattr(route, "openapi_extra", None) or {}).get(AUDIT_ACTION)
    if not isinstance(principal, Principal) or action is None:
        return
    target = next((value for name in ("webhook_id", "delivery_id", "token_id")
                   if isinstance(value := request.path_params.get(name), str)), None)
    if target is not None and _ID.fullmatch(target) is None:
        target = None
    office: Backoffice = request.app.state.backoffice
    await run_in_threadpool(office.audit.refused, principal.actor, principal.merchant_id,
                            action, status=status, reason=title, target_id=target)

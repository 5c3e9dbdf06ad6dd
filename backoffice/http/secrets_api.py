"""The API's webhook secrets: reveal one (the reveal scope), never cached.

A POST, not a GET: a reveal is an act the audit log records, which no prefetch, crawler
or cache may repeat or keep; the answer says ``Cache-Control: no-store``.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from backoffice import audit
from backoffice.http import access_bodies as bodies
from backoffice.http.deps import NO_STORE, Office, Revealer, WebhookId, audited, errors
from backoffice.http.responses import json_response
from backoffice.http.strict_json import StrictJSONRoute

router = APIRouter(tags=["webhooks"], route_class=StrictJSONRoute)


@router.post("/v1/webhooks/{webhook_id}/secret/reveal", response_model=bodies.RevealedSecret,
             responses={200: {"headers": {"Cache-Control": {"schema": {"type": "string"}}}},
                        **errors(401, 403, 404, 422, 503)},
             **audited(audit.SECRET_REVEAL))
def reveal_secret(office: Office, principal: Revealer, webhook_id: WebhookId) -> Response:
    """A URL webhook's secret in clear (needs webhooks:reveal, which manage includes);
    recorded in the audit log. An e-mail webhook has no secret (422)."""
    revealed = office.secrets.reveal(principal.merchant_id, webhook_id, actor=principal.actor)
    return json_response(revealed, headers=NO_STORE)

"""The API's routes for webhook secrets: rotation. No rules live here (``Webhooks`` and
``backoffice.rotation`` hold them); ``api.create_app`` includes this router."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backoffice import audit
from backoffice.http import bodies
from backoffice.http.api import IfMatch, etag, if_match_version
from backoffice.http.deps import Manager, Office, WebhookId, audited, errors
from backoffice.http.responses import json_response
from backoffice.http.strict_json import StrictJSONRoute

router = APIRouter(route_class=StrictJSONRoute)  # a key twice in a JSON body: 400


@router.post("/v1/webhooks/{webhook_id}/secret:rotate", response_model=bodies.Webhook,
             tags=["webhooks"],
             responses={200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
                        **errors(400, 401, 403, 404, 412, 413, 422, 503)},
             **audited(audit.WEBHOOK_UPDATE))
def rotate_secret(office: Office, principal: Manager, webhook_id: WebhookId,
                  body: bodies.RotateRequest | None = None,
                  if_match: IfMatch = None) -> Response:
    """Replace a URL webhook's secret with a new generated one (needs webhooks:manage).

    The old secret stays valid for ``grace_seconds`` (default a day): Standard Webhooks
    deliveries carry both signatures meanwhile; sibs ones keep the old key until a
    test-fire with the new one is acknowledged. The answer shows the new fingerprint,
    never the secret. Give If-Match: a retried rotation must not rotate twice.
    """
    version = if_match_version(office, principal, webhook_id, if_match)
    grace = body.grace_seconds if body is not None else None
    rotated = office.webhooks.rotate_secret(principal.merchant_id, webhook_id,
                                            grace_seconds=grace, if_match=version,
                                            actor=principal.actor)
    return json_response(rotated, headers={"ETag": etag(rotated)})

"""The API's tokens: list, create and revoke the caller's merchant's tokens (manage).

A token creates tokens of its own scope or a weaker one (a manage token may create any),
for its own merchant only; the new token is in the answer once (``Cache-Control:
no-store``) and never again. A revoked token is refused at once by this server, and by
every other server on the database within ``TOKEN_CACHE_SECONDS``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from backoffice import audit
from backoffice.http import access_bodies as bodies
from backoffice.http.deps import NO_STORE, Manager, Office, audited, errors, refuse_repeated
from backoffice.http.responses import json_response
from backoffice.http.strict_json import StrictJSONRoute

router = APIRouter(tags=["tokens"], route_class=StrictJSONRoute)
TokenId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/v1/tokens", response_model=bodies.TokenPage, responses=errors(401, 403, 422, 503))
def list_tokens(office: Office, principal: Manager, request: Request,
                query: Annotated[bodies.TokensQuery, Query()]) -> dict[str, Any]:
    """The merchant's tokens, newest first, revoked and expired ones included (needs
    webhooks:manage); never a token or its hash."""
    refuse_repeated(request)
    return office.tokens.list_tokens(principal.merchant_id, **query.model_dump())


@router.post("/v1/tokens", status_code=201, response_model=bodies.CreatedToken,
             responses={201: {"headers": {"Cache-Control": {"schema": {"type": "string"}}}},
                        **errors(400, 401, 403, 413, 422, 503)},
             **audited(audit.TOKEN_CREATE))
def create_token(office: Office, principal: Manager, body: bodies.TokenCreate) -> Response:
    """Create a token for this merchant (needs webhooks:manage; its scope at most the
    caller's). The token is in this answer only."""
    token, shown = office.tokens.issue(principal.merchant_id, body.scope, name=body.name,
                                       expires_in=body.expires_in, actor=principal.actor,
                                       creator=principal)
    return json_response({**shown, "token": token}, status_code=201, headers=NO_STORE)


@router.delete("/v1/tokens/{token_id}", response_model=bodies.Token,
               responses=errors(401, 403, 404, 422, 503), **audited(audit.TOKEN_REVOKE))
def revoke_token(office: Office, principal: Manager, token_id: TokenId) -> dict[str, Any]:
    """Revoke one of the merchant's tokens (needs webhooks:manage); the token afterwards.
    Revoking a revoked token changes nothing. A token may revoke itself."""
    return office.tokens.revoke(principal.merchant_id, token_id, actor=principal.actor)

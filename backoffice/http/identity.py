"""``GET /v1/whoami``: the merchant and the scopes of the calling token, so a client can
say "this needs a manage token" before it changes anything, instead of failing half-way.

Any valid token may ask (read is the least scope there is); the answer names no token.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from backoffice.http.deps import Reader, errors
from backoffice.http.strict_json import StrictJSONRoute


class Identity(BaseModel):
    """Who the token acts for."""

    model_config = ConfigDict(extra="forbid")

    merchant: str
    scopes: list[str]


router = APIRouter(route_class=StrictJSONRoute)


@router.get("/v1/whoami", response_model=Identity, tags=["tokens"],
            responses=errors(401, 503))
async def whoami(principal: Reader) -> Identity:
    """The token's merchant and scopes (webhooks:read, webhooks:reveal, webhooks:manage)."""
    return Identity(merchant=principal.merchant_id, scopes=sorted(principal.scopes))


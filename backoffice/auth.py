"""API tokens: random, shown once, stored as SHA-256; one merchant and one scope each."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Final

from backoffice.errors import Forbidden, Invalid

READ: Final = "webhooks:read"
MANAGE: Final = "webhooks:manage"
TOKEN_PREFIX: Final = "wbo_"
# Scopes a token of each kind grants: manage implies read.
GRANTS: Final[dict[str, frozenset[str]]] = {
    READ: frozenset({READ}),
    MANAGE: frozenset({READ, MANAGE}),
}
_SHORT: Final = {"read": READ, "manage": MANAGE}
_TOKEN_RE: Final = re.compile(r"wbo_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's merchant and the scopes it grants."""

    merchant_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            action = "manage" if scope == MANAGE else "read"
            raise Forbidden(f"this token lacks the permission to {action} webhooks")


def normalise_scope(scope: str) -> str:
    """``read``/``manage`` or the full ``webhooks:*`` name -> the full name."""
    full = _SHORT.get(scope, scope)
    if full not in GRANTS:
        raise Invalid(f"unknown scope {scope!r}: use read or manage")
    return full


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def looks_like_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()

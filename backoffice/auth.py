"""API tokens and scopes: the one place that says what each scope grants.

A token is random, shown once and stored as SHA-256; it belongs to one merchant and has
one scope. Scopes, weakest first: ``read`` (list, show, the logs), ``reveal`` (read,
plus ``secret reveal``), ``manage`` (everything: writes, tokens, reveal). A token may
create tokens of its own scope or a weaker one, for its own merchant only.

Who acted is an ``Actor``: a token (its public id and name), or the local operator
(``cli:local``): whoever runs a command on the database itself (``webhooks token
create``, the embedded backoffice), who needs no token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Final

from backoffice.errors import Forbidden, Invalid

READ: Final = "webhooks:read"
REVEAL: Final = "webhooks:reveal"
MANAGE: Final = "webhooks:manage"
TOKEN_PREFIX: Final = "wbo_"
TOKEN_ID_PREFIX: Final = "tok_"
# The short names, weakest first: each grants what the ones before it grant.
SCOPES: Final = ("read", "reveal", "manage")
_FULL: Final = {"read": READ, "reveal": REVEAL, "manage": MANAGE}
_SHORT: Final = {full: short for short, full in _FULL.items()}
# Scopes a token of each kind grants: manage implies reveal, reveal implies read.
GRANTS: Final[dict[str, frozenset[str]]] = {
    READ: frozenset({READ}),
    REVEAL: frozenset({READ, REVEAL}),
    MANAGE: frozenset({READ, REVEAL, MANAGE}),
}
_ACTIONS: Final = {READ: "read webhooks", REVEAL: "reveal secrets",
                   MANAGE: "manage webhooks"}
_TOKEN_RE: Final = re.compile(r"wbo_[A-Za-z0-9_-]{43}")
_TOKEN_ID_RE: Final = re.compile(r"tok_[a-z0-9]{16}")
# A token's name: a label for people (ci-apply, grafana.read), never a secret.
TOKEN_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_TOKEN_NAME_RE: Final = re.compile(TOKEN_NAME_PATTERN)
LOCAL_OPERATOR_NAME: Final = "cli:local"


@dataclass(frozen=True)
class Actor:
    """Who did something, as the audit log records it: a token, or the local operator."""

    token_id: str | None
    name: str


# Whoever works on the database in this process: `webhooks token create`, the embedded
# backoffice of the CLI, a program that opens the backoffice itself.
LOCAL_OPERATOR: Final = Actor(None, LOCAL_OPERATOR_NAME)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's merchant, the scopes it grants, and the token itself
    (its public id and name; None and ``cli:local`` for the local operator)."""

    merchant_id: str
    scopes: frozenset[str]
    token_id: str | None = None
    token_name: str = LOCAL_OPERATOR_NAME

    @property
    def actor(self) -> Actor:
        return Actor(self.token_id, self.token_name)

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this token lacks the permission to {_ACTIONS[scope]}")

    def may_grant(self, scope: str) -> bool:
        """Whether this caller may create a token of ``scope``: never above its own."""
        return GRANTS[normalise_scope(scope)] <= self.scopes


def normalise_scope(scope: str) -> str:
    """``read``/``reveal``/``manage`` or the full ``webhooks:*`` name -> the full name."""
    full = _FULL.get(scope, scope)
    if full not in GRANTS:
        raise Invalid(f"unknown scope {str(scope)[:40]!r}: use read, reveal or manage")
    return full


def short_scope(full: str) -> str:
    """``webhooks:manage`` -> ``manage`` (an unknown stored scope stays as it is)."""
    return _SHORT.get(full, full)


def token_name(name: str) -> str:
    """A token's name checked: 1-64 letters, digits, ``.``, ``_`` or ``-``."""
    if not isinstance(name, str) or _TOKEN_NAME_RE.fullmatch(name) is None:
        raise Invalid("name must be 1 to 64 letters, digits, '.', '_' or '-', starting with "
                      "a letter or digit (e.g. ci-apply)")
    return name


def default_token_name(full_scope: str, created_at: str) -> str:
    """The name of a token made without one: its scope and the day it was made
    (``manage-20261128``); tokens from before names existed got the same."""
    return f"{short_scope(full_scope)}-{created_at[:10].replace('-', '')}"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_token_id() -> str:
    """The public id of a token (``tok_`` + 16 characters): for lists, revocation and
    the audit log; knowing it grants nothing."""
    return TOKEN_ID_PREFIX + secrets.token_hex(8)


def looks_like_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def looks_like_token_id(text: str) -> bool:
    return _TOKEN_ID_RE.fullmatch(text) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()

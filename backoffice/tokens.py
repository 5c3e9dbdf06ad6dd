"""API tokens in the database: created for one merchant and scope, looked up by hash.

The token itself is shown once (``create_token`` returns it) and only its SHA-256 is
kept; ``backoffice.auth`` holds the pure parts (format, scopes, the Principal).
"""

from __future__ import annotations

from backoffice import auth
from backoffice.clock import Clock, iso
from backoffice.db import merchant_queries as q
from backoffice.db.engine import Database
from backoffice.errors import Unauthorized
from backoffice.merchants import require_merchant


class Tokens:
    """Creates tokens and turns a bearer token into the Principal it stands for."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create_token(self, merchant_id: str, scope: str) -> str:
        """A new token for ``merchant_id`` (``read`` or ``manage``); only its hash is kept."""
        full = auth.normalise_scope(scope)
        token = auth.new_token()
        with self.db.write() as conn:
            require_merchant(conn, merchant_id)
            q.insert_token(conn, auth.token_hash(token), merchant_id, full, iso(self.clock()))
        return token

    def authenticate(self, token: str) -> auth.Principal:
        if not auth.looks_like_token(token):
            raise Unauthorized("the bearer token is not valid")
        with self.db.read() as conn:
            found = q.find_token(conn, auth.token_hash(token))
        if found is None:
            raise Unauthorized("the bearer token is not valid")
        merchant_id, scope = found
        return auth.Principal(merchant_id, auth.GRANTS.get(scope, frozenset()))

    def token_count(self) -> int:
        with self.db.read() as conn:
            return q.count_tokens(conn)

"""API tokens in the database: created for one merchant and scope, looked up by hash.

The token itself is shown once (``create_token`` returns it) and only its SHA-256 is
kept; ``backoffice.auth`` holds the pure parts (format, scopes, the Principal).

A token found in the database is remembered for ``TOKEN_CACHE_SECONDS`` at most (keyed
by its hash, holding the Principal that hash stands for), so a burst of requests reads
the tokens table once, not once per request. The bound is the promise: a token removed
from the database (by another process, or a later revocation) stops working here within
that many seconds. A revocation in this process must call ``forget`` as well, which
takes effect at once. Unknown tokens are never remembered, so a token created is usable
at once, and a guessed one costs a lookup every time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from backoffice import auth
from backoffice.clock import Clock, iso
from backoffice.db import merchant_queries as q
from backoffice.db.engine import Database
from backoffice.errors import Unauthorized
from backoffice.merchants import require_merchant

# How long a token looked up stays trusted without reading the database again.
TOKEN_CACHE_SECONDS: Final = 5.0
# Tokens remembered at most (a server has a handful; this only bounds the memory).
TOKEN_CACHE_ENTRIES: Final = 1024


class Tokens:
    """Creates tokens and turns a bearer token into the Principal it stands for.

    ``ticks``: a monotonic clock in seconds for the cache's bound (tests pass their own).
    """

    def __init__(self, db: Database, *, clock: Clock,
                 ticks: Callable[[], float] = time.monotonic,
                 cache_seconds: float = TOKEN_CACHE_SECONDS) -> None:
        self.db = db
        self.clock = clock
        self.ticks = ticks
        self.cache_seconds = cache_seconds
        # token hash -> (Principal, when it stops being trusted, in ticks)
        self._cache: dict[str, tuple[auth.Principal, float]] = {}
        self._lock = threading.Lock()

    def create_token(self, merchant_id: str, scope: str) -> str:
        """A new token for ``merchant_id`` (``read`` or ``manage``); only its hash is kept."""
        full = auth.normalise_scope(scope)
        token = auth.new_token()
        with self.db.write() as conn:
            require_merchant(conn, merchant_id)
            q.insert_token(conn, auth.token_hash(token), merchant_id, full, iso(self.clock()))
        return token

    def cached(self, token: str) -> auth.Principal | None:
        """The Principal of ``token`` if it was found less than the bound ago, else None
        (then ``authenticate``); never blocks, so the API calls it on its event loop."""
        found = self._cache.get(auth.token_hash(token))
        return found[0] if found is not None and self.ticks() < found[1] else None

    def authenticate(self, token: str) -> auth.Principal:
        if not auth.looks_like_token(token):
            raise Unauthorized("the bearer token is not valid")
        return self.authenticate_hash(auth.token_hash(token))

    def authenticate_hash(self, key: str) -> auth.Principal:
        """The Principal of the token whose hash is ``key`` (what ``authenticate`` does
        once it has the hash): the same cache and its bound. The web pages' sessions keep
        only the hash and re-check it here on every request, so whatever ends a token
        (its row gone, and any later revocation or expiry checked here) ends them too."""
        now = self.ticks()
        found_here = self._cache.get(key)
        if found_here is not None and now < found_here[1]:
            return found_here[0]
        with self.db.read() as conn:
            found = q.find_token(conn, key)
        if found is None:
            self._drop(key)
            raise Unauthorized("the bearer token is not valid")
        merchant_id, scope = found
        principal = auth.Principal(merchant_id, auth.GRANTS.get(scope, frozenset()))
        if self.cache_seconds > 0:
            self._remember(key, principal, now + self.cache_seconds)
        return principal

    def forget(self, token: str) -> None:
        """Stop trusting ``token`` here at once (what a revocation in this process calls)."""
        self._drop(auth.token_hash(token))

    def _drop(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def _remember(self, key: str, principal: auth.Principal, until: float) -> None:
        with self._lock:
            if len(self._cache) >= TOKEN_CACHE_ENTRIES:
                now = self.ticks()
                for stale in [k for k, (_, end) in self._cache.items() if end <= now]:
                    del self._cache[stale]
                if len(self._cache) >= TOKEN_CACHE_ENTRIES:
                    self._cache.clear()
            self._cache[key] = (principal, until)

    def token_count(self) -> int:
        with self.db.read() as conn:
            return q.count_tokens(conn)

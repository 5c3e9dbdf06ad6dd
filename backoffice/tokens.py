"""API tokens in the database: issued, listed, revoked, and turned back into a Principal.

The token itself is shown once (``issue`` returns it) and only its SHA-256 is kept;
``backoffice.auth`` holds the pure parts (format, scopes, the Principal). Each token has
a public id (``tok_...``), a name, an optional expiry, its last use (written at most
once a minute per token, ``LAST_USED_PERIOD``, so requests do not each write) and its
revocation. ``check_hash`` is the one answer to "is this token (hash) still valid?",
read from the database; ``authenticate_hash`` asks it through the cache (what a
sign-in session that keeps a token's hash calls on each request).

A token found in the database is remembered for ``TOKEN_CACHE_SECONDS`` at most (keyed
by its hash, holding the Principal that hash stands for), so a burst of requests reads
the tokens table once, not once per request. The bound is the promise: a token revoked
(or removed) by another process stops working here within that many seconds; a
revocation in this process forgets it at once. An expiry is checked on every use, the
cached ones included: a token is refused from its expiry on, not up to the bound later.
Unknown tokens are never remembered, so a token created is usable at once, and a
guessed one costs a lookup every time.

A refused token gets one of three reasons: not valid (malformed or unknown), revoked, or
expired. Only someone holding the token sees which, and it tells them nothing they could
use: not the merchant, the name, the scope or when.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from backoffice import audit, auth, cursors
from backoffice.clock import Clock, iso
from backoffice.db import token_queries as q
from backoffice.db.engine import Database
from backoffice.db.token_queries import TokenRow
from backoffice.errors import Forbidden, Invalid, NotFound, Unauthorized, Unavailable
from backoffice.merchants import require_merchant
from contract import times

log = logging.getLogger("backoffice.tokens")

# How long a token looked up stays trusted without reading the database again.
TOKEN_CACHE_SECONDS: Final = 5.0
# Tokens remembered at most (a server has a handful; this only bounds the memory).
TOKEN_CACHE_ENTRIES: Final = 1024
# A token's last_used_at is written again only once it is this old.
LAST_USED_PERIOD: Final = timedelta(minutes=1)
NOT_VALID: Final = "the bearer token is not valid"
REVOKED: Final = "the bearer token was revoked"
EXPIRED: Final = "the bearer token has expired"
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
_MOMENT: Final = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
_ID: Final = r"tok_[a-z0-9]{16}"


@dataclass(frozen=True)
class _Trusted:
    principal: auth.Principal
    until: float  # ticks: when the cache stops trusting it
    expires: float | None  # wall-clock seconds (epoch): when the token expires


def status(row: TokenRow, now: str) -> str:
    """``revoked``, ``expired`` or ``active`` at ``now`` (an ISO moment)."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def public(row: TokenRow, now: str) -> dict[str, Any]:
    """A token as the API and the CLI show it: never the token, nor its hash."""
    return {"id": row.id, "name": row.name, "scope": auth.short_scope(row.scope),
            "created_at": row.created_at, "expires_at": row.expires_at,
            "last_used_at": row.last_used_at, "revoked_at": row.revoked_at,
            "status": status(row, now)}


def _lifetime(expires_in: str | None) -> timedelta | None:
    if expires_in is None:
        return None
    try:
        duration = times.parse_duration(expires_in)
    except ValueError as exc:
        raise Invalid(f"expires_in: {exc}") from None
    if duration <= timedelta(0):
        raise Invalid("expires_in must be more than 0 (omit it for a token that never expires)")
    return duration


class Tokens:
    """Issues, lists and revokes tokens, and turns a bearer token into its Principal.

    ``ticks``: a monotonic clock in seconds for the cache's bound (tests pass their own).
    """

    def __init__(self, db: Database, *, clock: Clock,
                 ticks: Callable[[], float] = time.monotonic,
                 cache_seconds: float = TOKEN_CACHE_SECONDS) -> None:
        self.db = db
        self.clock = clock
        self.ticks = ticks
        self.cache_seconds = cache_seconds
        self._cache: dict[str, _Trusted] = {}  # by token hash
        self._lock = threading.Lock()

    # --- issuing, listing, revoking ----------------------------------------------------

    def issue(self, merchant_id: str, scope: str, *, name: str | None = None,
              expires_in: str | None = None, actor: auth.Actor = auth.LOCAL_OPERATOR,
              creator: auth.Principal | None = None) -> tuple[str, dict[str, Any]]:
        """A new token for ``merchant_id`` and what lists show of it; only its hash is
        kept. ``creator``: the caller, whose own scope bounds the new token's."""
        full = auth.normalise_scope(scope)
        if creator is not None and not creator.may_grant(full):
            raise Forbidden("a token may create tokens of its own scope or a weaker one only")
        lifetime = _lifetime(expires_in)
        moment = self.clock()
        now = iso(moment)
        row = TokenRow(
            id=auth.new_token_id(), merchant_id=merchant_id, scope=full,
            name=auth.default_token_name(full, now) if name is None else auth.token_name(name),
            created_at=now, expires_at=None if lifetime is None else iso(moment + lifetime),
            last_used_at=None, revoked_at=None)
        token = auth.new_token()
        with self.db.write() as conn:
            require_merchant(conn, merchant_id)
            q.insert_token(conn, auth.token_hash(token), row)
            audit.record(conn, actor, merchant_id, audit.TOKEN_CREATE, at=moment, status=201,
                         target_id=row.id, target_name=row.name,
                         fields=["name", "scope", *(["expires_at"] if lifetime else [])],
                         note=f"scope {auth.short_scope(full)}")
        return token, public(row, now)

    def create_token(self, merchant_id: str, scope: str, *, name: str | None = None,
                     expires_in: str | None = None,
                     actor: auth.Actor = auth.LOCAL_OPERATOR) -> str:
        """A new token (``read``, ``reveal`` or ``manage``), shown this once."""
        return self.issue(merchant_id, scope, name=name, expires_in=expires_in,
                          actor=actor)[0]

    def list_tokens(self, merchant_id: str, *, limit: int = DEFAULT_LIMIT,
                    cursor: str | None = None) -> dict[str, Any]:
        """The merchant's tokens, newest first, revoked and expired ones included:
        ``{"data": [...], "next_cursor": ...}``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
        before = None if cursor is None else cursors.decode_pair(
            "t1", cursor, first=_MOMENT, second=_ID, start="the newest token")
        with self.db.read() as conn:
            require_merchant(conn, merchant_id)
            rows = q.list_tokens(conn, merchant_id, before=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        now = iso(self.clock())
        return {"data": [public(row, now) for row in rows],
                "next_cursor": cursors.encode_pair("t1", rows[-1].created_at, rows[-1].id)
                if more else None}

    def get_token(self, merchant_id: str, token_id: str) -> dict[str, Any]:
        """One of the merchant's tokens, as lists show it."""
        with self.db.read() as conn:
            row = q.get_token(conn, merchant_id, token_id)
        if row is None:
            raise NotFound(f"no token with id {token_id[:64]!r}")
        return public(row, iso(self.clock()))

    def revoke(self, merchant_id: str, token_id: str, *,
               actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """Revoke one of the merchant's tokens: refused here at once, and by every other
        process within ``TOKEN_CACHE_SECONDS``. Revoking a revoked token changes nothing."""
        moment = self.clock()
        with self.db.write() as conn:
            row = q.get_token(conn, merchant_id, token_id)
            if row is None:
                raise NotFound(f"no token with id {token_id[:64]!r}")
            if q.revoke_token(conn, merchant_id, token_id, iso(moment)):
                audit.record(conn, actor, merchant_id, audit.TOKEN_REVOKE, at=moment,
                             status=200, target_id=row.id, target_name=row.name,
                             fields=["revoked_at"])
            row = q.get_token(conn, merchant_id, token_id) or row
        with self._lock:
            for key in [k for k, v in self._cache.items() if v.principal.token_id == token_id]:
                del self._cache[key]
        return public(row, iso(moment))

    # --- authentication ------------------------------------------------------------------

    def check_hash(self, token_hash: str, *, touch: bool = True) -> auth.Principal:
        """The Principal of the token whose SHA-256 is ``token_hash``, read from the
        database now (no cache); Unauthorized, saying why, when it is unknown, revoked
        or expired. ``touch``: note the use (at most once per ``LAST_USED_PERIOD``)."""
        return self._check(token_hash, touch=touch)[0]

    def _check(self, token_hash: str, *, touch: bool) -> tuple[auth.Principal, float | None]:
        """``check_hash``, and when the token expires (epoch seconds; None: never)."""
        with self.db.read() as conn:
            row = q.find_token(conn, token_hash)
        moment = self.clock()
        now = iso(moment)
        if row is None:
            raise Unauthorized(NOT_VALID)
        state = status(row, now)
        if state != "active":
            raise Unauthorized(REVOKED if state == "revoked" else EXPIRED)
        if touch and (row.last_used_at is None
                      or row.last_used_at < iso(moment - LAST_USED_PERIOD)):
            self._touch(token_hash, moment)
        principal = auth.Principal(row.merchant_id, auth.GRANTS.get(row.scope, frozenset()),
                                   token_id=row.id, token_name=row.name)
        expires = (None if row.expires_at is None
                   else times.parse_moment(row.expires_at).timestamp())
        return principal, expires

    def _touch(self, token_hash: str, moment: datetime) -> None:
        try:  # bookkeeping: a request never waits for another writer because of it
            with self.db.write(wait=False) as conn:
                q.touch_token(conn, token_hash, iso(moment), iso(moment - LAST_USED_PERIOD))
        except Unavailable:  # busy: the next lookup notes it
            log.debug("last use of a token not recorded: the database is busy")

    def cached(self, token: str) -> auth.Principal | None:
        """The Principal of ``token`` if it was found less than the bound ago and has not
        expired since, else None (then ``authenticate``); never blocks, so the API calls
        it on its event loop."""
        found = self._cache.get(auth.token_hash(token))
        if found is None or self.ticks() >= found.until:
            return None
        if found.expires is not None and self.clock().timestamp() >= found.expires:
            return None
        return found.principal

    def authenticate(self, token: str) -> auth.Principal:
        """The Principal of a bearer token: from the cache (within its bound, and before
        the token's expiry), else from the database (``check_hash``)."""
        if not auth.looks_like_token(token):
            raise Unauthorized(NOT_VALID)
        return self.authenticate_hash(auth.token_hash(token))

    def authenticate_hash(self, key: str) -> auth.Principal:
        """``authenticate`` once the hash is known, with the same cache and bound: for
        what keeps only a token's hash and re-checks it on every request (a sign-in
        session), so whatever ends the token (revocation, expiry) ends that too.
        ``check_hash`` is the same question without the cache."""
        now = self.ticks()
        found_here = self._cache.get(key)
        if found_here is not None and now < found_here.until:
            if found_here.expires is None or self.clock().timestamp() < found_here.expires:
                return found_here.principal
            self._drop(key)
            raise Unauthorized(EXPIRED)
        try:
            principal, expires = self._check(key, touch=True)
        except Unauthorized:
            self._drop(key)
            raise
        if self.cache_seconds > 0:
            self._remember(key, _Trusted(principal, now + self.cache_seconds, expires))
        return principal

    def forget(self, token: str) -> None:
        """Stop trusting ``token`` here at once."""
        self._drop(auth.token_hash(token))

    def _drop(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def _remember(self, key: str, trusted: _Trusted) -> None:
        with self._lock:
            if len(self._cache) >= TOKEN_CACHE_ENTRIES:
                now = self.ticks()
                for stale in [k for k, v in self._cache.items() if v.until <= now]:
                    del self._cache[stale]
                if len(self._cache) >= TOKEN_CACHE_ENTRIES:
                    self._cache.clear()
            self._cache[key] = trusted

    def token_count(self) -> int:
        with self.db.read() as conn:
            return q.count_tokens(conn)

"""Sign-in sessions of the web pages, kept in the database (``web_sessions``).

Signing in takes an API token; the session row keeps the token's hash, never the token,
and the browser holds only a random 256-bit id (the row keeps its SHA-256). Every
request re-checks the token through ``Tokens.authenticate_hash`` (``recheck_token``):
the same lookup, with the same 5-second cache bound, that authenticates the API's
bearer tokens. So a token that stops working (its row removed, revoked, expired) ends
its sessions within that bound, and a read token's session can read only. Replicas
share the rows, so a session started on one works on every other, and signing out on
one ends it on all.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from backoffice.auth import Principal, token_hash
from backoffice.clock import Clock, iso
from backoffice.db import session_queries as q
from backoffice.db.engine import Database
from backoffice.errors import Unauthorized
from backoffice.tokens import Tokens

LIFETIME: Final = timedelta(hours=12)  # a session ends this long after sign-in, at most
IDLE: Final = timedelta(hours=1)  # ... or after this long unused
TOUCH_EVERY: Final = timedelta(minutes=1)  # last_seen_at is written at most this often
_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """A live session: who it acts for (re-checked on this request) and its form token."""

    id_hash: str
    token_hash: str
    csrf: str
    principal: Principal
    expires_at: str


class WebSessions:
    """Starts, resumes and ends sessions; ``recheck_token`` is the one token check."""

    def __init__(self, db: Database, tokens: Tokens, *, clock: Clock,
                 lifetime: timedelta = LIFETIME, idle: timedelta = IDLE) -> None:
        self.db = db
        self.tokens = tokens
        self.clock = clock
        self.lifetime = lifetime
        self.idle = idle

    def recheck_token(self, token_hash_: str) -> Principal:
        """Who the session's token stands for now; Unauthorized when it no longer works.

        The API's lookup of a bearer token, by its hash (``Tokens.authenticate_hash``):
        whatever ends a token there ends its sessions here."""
        return self.tokens.authenticate_hash(token_hash_)

    def start(self, token: str) -> tuple[str, WebSession]:
        """Sign in with an API token: (the id for the cookie, the session).
        Unauthorized when the token does not work."""
        principal = self.tokens.authenticate(token)
        now = self.clock()
        session_id = secrets.token_urlsafe(32)
        row = q.SessionRow(id_hash=id_hash(session_id), token_hash=token_hash(token),
                           csrf=secrets.token_urlsafe(32), created_at=iso(now),
                           expires_at=iso(now + self.lifetime), last_seen_at=iso(now))
        with self.db.write() as conn:
            q.delete_expired(conn, iso(now), iso(now - self.idle))
            q.insert_session(conn, row)
        return session_id, WebSession(row.id_hash, row.token_hash, row.csrf, principal,
                                      row.expires_at)

    def resume(self, session_id: str | None) -> WebSession | None:
        """The live session the cookie names, or None (unknown, ended, expired, idle too
        long, or its token no longer works: then the row is removed)."""
        if session_id is None or _ID_RE.fullmatch(session_id) is None:
            return None
        key = id_hash(session_id)
        with self.db.read() as conn:
            row = q.find_session(conn, key)
        if row is None:
            return None
        now = self.clock()
        if row.expires_at <= iso(now) or row.last_seen_at < iso(now - self.idle):
            self._end(key)
            return None
        try:
            principal = self.recheck_token(row.token_hash)
        except Unauthorized:
            self._end(key)
            return None
        if _parse(row.last_seen_at) + TOUCH_EVERY <= now:
            with self.db.write() as conn:
                q.touch_session(conn, key, iso(now))
        return WebSession(key, row.token_hash, row.csrf, principal, row.expires_at)

    def end(self, session_id: str | None) -> None:
        """Sign out: the row goes, so the cookie works on no replica."""
        if session_id is not None and _ID_RE.fullmatch(session_id) is not None:
            self._end(id_hash(session_id))

    def end_all_for_token(self, token: str) -> int:
        """End every session signed in with ``token``; how many there were."""
        with self.db.write() as conn:
            return q.delete_sessions_of_token(conn, token_hash(token))

    def _end(self, key: str) -> None:
        with self.db.write() as conn:
            q.delete_session(conn, key)


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))

"""Queries on API tokens: found by hash (authentication) or by public id (lists, revocation).

The hash never leaves this module but as the key it was looked up by: ``TokenRow`` has
no hash, so nothing built from one can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from backoffice.db import tables as t

_c = t.tokens.c
_COLUMNS = (_c.id, _c.merchant_id, _c.scope, _c.name, _c.created_at, _c.expires_at,
            _c.last_used_at, _c.revoked_at)


@dataclass(frozen=True)
class TokenRow:
    """A token as stored, without its hash."""

    id: str
    merchant_id: str
    scope: str  # the full name: webhooks:read, webhooks:reveal, webhooks:manage
    name: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


def _row(row: Any) -> TokenRow:
    return TokenRow(id=str(row.id), merchant_id=str(row.merchant_id), scope=str(row.scope),
                    name=str(row.name), created_at=str(row.created_at),
                    expires_at=row.expires_at, last_used_at=row.last_used_at,
                    revoked_at=row.revoked_at)


def insert_token(conn: Connection, token_hash: str, row: TokenRow) -> None:
    conn.execute(insert(t.tokens).values(
        hash=token_hash, id=row.id, merchant_id=row.merchant_id, scope=row.scope,
        name=row.name, created_at=row.created_at, expires_at=row.expires_at,
        last_used_at=row.last_used_at, revoked_at=row.revoked_at))


def find_token(conn: Connection, token_hash: str) -> TokenRow | None:
    row = conn.execute(select(*_COLUMNS).where(_c.hash == token_hash)).first()
    return None if row is None else _row(row)


def get_token(conn: Connection, merchant_id: str, token_id: str) -> TokenRow | None:
    row = conn.execute(select(*_COLUMNS).where(_c.merchant_id == merchant_id,
                                               _c.id == token_id)).first()
    return None if row is None else _row(row)


def list_tokens(conn: Connection, merchant_id: str, *, before: tuple[str, str] | None,
                limit: int) -> list[TokenRow]:
    """The merchant's tokens, newest first (by creation, then id), after ``before``."""
    query = select(*_COLUMNS).where(_c.merchant_id == merchant_id)
    if before is not None:
        created, token_id = before
        query = query.where(or_(_c.created_at < created,
                                and_(_c.created_at == created, _c.id < token_id)))
    rows = conn.execute(query.order_by(_c.created_at.desc(), _c.id.desc()).limit(limit))
    return [_row(row) for row in rows]


def revoke_token(conn: Connection, merchant_id: str, token_id: str, now: str) -> bool:
    """Mark the token revoked now; False when it was revoked already (or is not there)."""
    done = conn.execute(update(t.tokens).where(
        _c.merchant_id == merchant_id, _c.id == token_id, _c.revoked_at.is_(None))
        .values(revoked_at=now))
    return bool(done.rowcount)


def touch_token(conn: Connection, token_hash: str, now: str, stale_before: str) -> bool:
    """Set ``last_used_at`` to now unless it is already after ``stale_before``: a token
    used by many requests (in many processes) is written at most once per period."""
    done = conn.execute(update(t.tokens).where(
        _c.hash == token_hash,
        or_(_c.last_used_at.is_(None), _c.last_used_at < stale_before)).values(
        last_used_at=now))
    return bool(done.rowcount)


def count_tokens(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.tokens)).scalar_one())


# --- the version 5 upgrade ----------------------------------------------------------------


def tokens_without_id(conn: Connection) -> list[tuple[str, str, str]]:
    """(hash, scope, created_at) of every token made before tokens had ids."""
    rows = conn.execute(select(_c.hash, _c.scope, _c.created_at).where(_c.id.is_(None)))
    return [(str(r.hash), str(r.scope), str(r.created_at)) for r in rows]


def set_identity(conn: Connection, token_hash: str, token_id: str, name: str) -> None:
    conn.execute(update(t.tokens).where(_c.hash == token_hash).values(id=token_id, name=name))

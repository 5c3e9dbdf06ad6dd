"""Queries on the web pages' sign-in sessions (``web_sessions``, schema version 8)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from backoffice.db import tables as t


@dataclass(frozen=True)
class SessionRow:
    id_hash: str
    token_hash: str
    csrf: str
    created_at: str
    expires_at: str
    last_seen_at: str


def insert_session(conn: Connection, row: SessionRow) -> None:
    conn.execute(insert(t.web_sessions).values(
        id_hash=row.id_hash, token_hash=row.token_hash, csrf=row.csrf,
        created_at=row.created_at, expires_at=row.expires_at, last_seen_at=row.last_seen_at))


def find_session(conn: Connection, id_hash: str) -> SessionRow | None:
    c = t.web_sessions.c
    row = conn.execute(select(c.id_hash, c.token_hash, c.csrf, c.created_at, c.expires_at,
                              c.last_seen_at).where(c.id_hash == id_hash)).first()
    return None if row is None else SessionRow(*(str(v) for v in row))


def touch_session(conn: Connection, id_hash: str, now: str) -> None:
    c = t.web_sessions.c
    conn.execute(update(t.web_sessions).where(c.id_hash == id_hash).values(last_seen_at=now))


def delete_session(conn: Connection, id_hash: str) -> int:
    c = t.web_sessions.c
    return int(conn.execute(delete(t.web_sessions).where(c.id_hash == id_hash)).rowcount)


def delete_sessions_of_token(conn: Connection, token_hash: str) -> int:
    c = t.web_sessions.c
    return int(conn.execute(delete(t.web_sessions).where(c.token_hash == token_hash)).rowcount)


def delete_expired(conn: Connection, now: str, idle_before: str) -> int:
    """Sessions past their end, or unused since ``idle_before``."""
    c = t.web_sessions.c
    return int(conn.execute(delete(t.web_sessions).where(
        (c.expires_at <= now) | (c.last_seen_at < idle_before))).rowcount)


def delete_token(conn: Connection, token_hash: str) -> int:
    """Remove an API token's row: what `webhooks ui` does with the token it made for
    itself when it stops (until tokens have a revocation of their own)."""
    return int(conn.execute(delete(t.tokens).where(t.tokens.c.hash == token_hash)).rowcount)

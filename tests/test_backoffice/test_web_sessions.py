"""The web pages' sessions (``backoffice.web.sessions``) on SQLite and PostgreSQL: kept
in the database (so replicas share them), hashed, re-checked against their token on
every use, ended by sign-out, expiry, idleness, or their token going away; and the
schema step that adds their table."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, inspect, select, text

from backoffice import Backoffice
from backoffice.auth import MANAGE, READ, token_hash
from backoffice.db import tables as t
from backoffice.tokens import Tokens
from backoffice.web.sessions import IDLE, LIFETIME, WebSessions
from tests.support.backoffice import Clock


class Ticks:
    """A monotonic clock for the token cache, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sessions_of(office: Backoffice, clock: Clock, ticks: Ticks | None = None) -> WebSessions:
    tokens = office.tokens if ticks is None else Tokens(office.db, clock=clock, ticks=ticks)
    return WebSessions(office.db, tokens, clock=clock)


def rows(office: Backoffice) -> list[dict[str, object]]:
    with office.db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t.web_sessions))]


def test_a_session_acts_for_its_token_and_keeps_only_hashes(office: Backoffice,
                                                            clock: Clock) -> None:
    manage = office.tokens.create_token("demo", "manage")
    read = office.tokens.create_token("demo", "read")
    sessions = sessions_of(office, clock)
    sid, started = sessions.start(manage)
    other_sid, _ = sessions.start(read)
    assert len(sid) == 43 and sid != other_sid  # 256 random bits, base64url
    assert started.principal.merchant_id == "demo" and MANAGE in started.principal.scopes
    resumed = sessions.resume(sid)
    assert resumed is not None and resumed.csrf == started.csrf
    assert resumed.principal == started.principal
    reader = sessions.resume(other_sid)
    assert reader is not None and reader.principal.scopes == {READ}
    assert reader.csrf != resumed.csrf
    stored = rows(office)
    assert {r["id_hash"] for r in stored} == {hashlib.sha256(s.encode()).hexdigest()
                                              for s in (sid, other_sid)}
    assert {r["token_hash"] for r in stored} == {token_hash(manage), token_hash(read)}
    everything = repr(stored)
    for clear in (sid, other_sid, manage, read):
        assert clear not in everything


def test_a_replica_resumes_what_another_started_and_sign_out_ends_it_on_both(
        office: Backoffice, clock: Clock, db_url: str, db_path: Path) -> None:
    manage = office.tokens.create_token("demo", "manage")
    sid, _ = sessions_of(office, clock).start(manage)
    with Backoffice.open(db_url, clock=clock, data_dir=db_path.parent) as replica:
        other = sessions_of(replica, clock)
        assert other.resume(sid) is not None
        other.end(sid)
        assert other.resume(sid) is None
    assert sessions_of(office, clock).resume(sid) is None and rows(office) == []


def test_unknown_malformed_and_hostile_ids_resume_nothing(office: Backoffice,
                                                          clock: Clock) -> None:
    sessions = sessions_of(office, clock)
    for cookie in (None, "", "x", "A" * 43, "\x00" * 43, "é" * 43, "A" * 10_000,
                   "'; DROP TABLE web_sessions; --"):
        assert sessions.resume(cookie) is None
        sessions.end(cookie)  # never raises
    with office.db.read() as conn:
        assert "web_sessions" in inspect(conn).get_table_names()


def test_a_session_ends_at_its_lifetime_and_when_idle(office: Backoffice, clock: Clock) -> None:
    manage = office.tokens.create_token("demo", "manage")
    sessions = sessions_of(office, clock)
    busy, _ = sessions.start(manage)
    idle, _ = sessions.start(manage)
    for _ in range(int(LIFETIME / (IDLE / 2)) - 1):  # used every half hour: never idle
        clock.advance(seconds=(IDLE / 2).total_seconds())
        assert sessions.resume(busy) is not None
    assert sessions.resume(idle) is None  # unused for longer than IDLE: gone
    clock.advance(seconds=(IDLE / 2).total_seconds() + 1)  # past the lifetime
    assert sessions.resume(busy) is None
    assert rows(office) == []


def test_a_token_that_goes_away_ends_its_sessions_within_the_cache_bound(
        office: Backoffice, clock: Clock) -> None:
    manage = office.tokens.create_token("demo", "manage")
    ticks = Ticks()
    sessions = sessions_of(office, clock, ticks)
    sid, _ = sessions.start(manage)
    assert sessions.resume(sid) is not None
    with office.db.write() as conn:  # what a revocation elsewhere does to the row
        conn.execute(delete(t.tokens).where(t.tokens.c.hash == token_hash(manage)))
    ticks.now += 1  # within the 5 s bound, the cached token still stands
    assert sessions.resume(sid) is not None
    ticks.now += 5  # past it: the re-check reads the row, finds none, ends the session
    assert sessions.resume(sid) is None and rows(office) == []


def test_forgetting_a_token_in_this_process_ends_its_sessions_at_once(
        office: Backoffice, clock: Clock) -> None:
    manage = office.tokens.create_token("demo", "manage")
    sessions = sessions_of(office, clock)
    sid, _ = sessions.start(manage)
    with office.db.write() as conn:
        conn.execute(delete(t.tokens).where(t.tokens.c.hash == token_hash(manage)))
    office.tokens.forget(manage)  # what a revocation in this process calls
    assert sessions.resume(sid) is None


def test_signing_in_needs_a_working_token(office: Backoffice, clock: Clock) -> None:
    from backoffice.errors import Unauthorized

    sessions = sessions_of(office, clock)
    for bad in ("", "wbo_" + "A" * 43, "not a token", "wbo_\u202e" + "A" * 42):
        with pytest.raises(Unauthorized):
            sessions.start(bad)
    assert rows(office) == []


def test_a_database_at_version_4_gains_the_sessions_table(
        office: Backoffice, db_url: str, db_path: Path, clock: Clock) -> None:
    """What schema version 4 left (no web_sessions; steps 5 to 9 add other things) is
    upgraded to this version when opened, and sessions work on it."""
    manage = office.tokens.create_token("demo", "manage")
    with office.db.write() as conn:
        t.web_sessions.drop(conn)
        conn.execute(delete(t.schema_version))
        conn.execute(insert(t.schema_version).values(version=4))
    office.close()
    with Backoffice.open(db_url, clock=clock, data_dir=db_path.parent) as upgraded:
        with upgraded.db.read() as conn:
            assert "web_sessions" in inspect(conn).get_table_names()
            versions = conn.execute(select(func.max(t.schema_version.c.version))).scalar()
            assert versions == t.SCHEMA_VERSION == 9
            steps = [v for (v,) in conn.execute(text("SELECT version FROM schema_version "
                                                     "ORDER BY version"))]
            assert steps == list(range(4, t.SCHEMA_VERSION + 1))
        sessions = sessions_of(upgraded, clock)
        sid, _ = sessions.start(manage)
        assert sessions.resume(sid) is not None


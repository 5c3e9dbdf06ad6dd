"""The token cache: a token found is trusted for TOKEN_CACHE_SECONDS at most, per hash.

The bound is what a removed or revoked token can still do, so it is tested with a
clock moved by hand, never with sleeps (revocation and expiry: test_token_lifecycle.py).
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete

from backoffice import Backoffice, auth
from backoffice.db import tables as t
from backoffice.db import token_queries
from backoffice.db.token_queries import TokenRow
from backoffice.errors import Unauthorized
from backoffice.http.api import create_app
from backoffice.tokens import TOKEN_CACHE_SECONDS, Tokens
from tests.support.backoffice import Clock


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def tokens(office: Backoffice, clock: Clock, ticks: Ticks) -> Tokens:
    return Tokens(office.db, clock=clock, ticks=ticks)


def remove(office: Backoffice, token: str) -> None:
    """What another process (or a later revocation) does: the row goes."""
    with office.db.write() as conn:
        conn.execute(delete(t.tokens).where(t.tokens.c.hash == auth.token_hash(token)))


def test_the_bound_is_a_few_seconds() -> None:
    assert 0 < TOKEN_CACHE_SECONDS <= 5


def test_a_removed_token_stops_working_within_the_bound(
        office: Backoffice, tokens: Tokens, ticks: Ticks) -> None:
    token = tokens.create_token("demo", "manage")
    assert tokens.authenticate(token).merchant_id == "demo"
    remove(office, token)
    ticks.now += TOKEN_CACHE_SECONDS - 0.01
    assert tokens.authenticate(token).merchant_id == "demo"  # still trusted: the bound
    assert tokens.cached(token) is not None
    ticks.now += 0.01
    assert tokens.cached(token) is None
    with pytest.raises(Unauthorized):
        tokens.authenticate(token)
    ticks.now -= 1  # and a failed lookup left nothing behind to trust
    with pytest.raises(Unauthorized):
        tokens.authenticate(token)


def test_forget_takes_effect_at_once(office: Backoffice, tokens: Tokens) -> None:
    token = tokens.create_token("demo", "read")
    tokens.authenticate(token)
    remove(office, token)
    tokens.forget(token)
    assert tokens.cached(token) is None
    with pytest.raises(Unauthorized):
        tokens.authenticate(token)


def test_a_token_created_elsewhere_is_usable_at_once(office: Backoffice, tokens: Tokens,
                                                     clock: Clock) -> None:
    token = auth.new_token()
    with pytest.raises(Unauthorized):  # unknown: and not remembered as unknown
        tokens.authenticate(token)
    elsewhere = Tokens(office.db, clock=clock)  # another process's `webhooks token create`
    with office.db.write() as conn:
        token_queries.insert_token(conn, auth.token_hash(token), TokenRow(
            id=auth.new_token_id(), merchant_id="demo", scope=auth.READ, name="elsewhere",
            created_at="2026-11-28T04:00:00Z", expires_at=None, last_used_at=None,
            revoked_at=None))
    assert tokens.authenticate(token).scopes == {auth.READ}
    later = elsewhere.create_token("demo", "reveal")
    assert tokens.authenticate(later).scopes == {auth.READ, auth.REVEAL}


def test_each_token_gets_its_own_principal(tokens: Tokens) -> None:
    demo, demo_row = tokens.issue("demo", "read", name="demo-reader")
    acme, acme_row = tokens.issue("acme", "manage", name="acme-ci")
    want_demo = auth.Principal("demo", frozenset({auth.READ}), demo_row["id"], "demo-reader")
    want_acme = auth.Principal("acme", frozenset({auth.READ, auth.REVEAL, auth.MANAGE}),
                               acme_row["id"], "acme-ci")
    for _ in range(2):  # the second round is served from the cache
        assert tokens.authenticate(demo) == want_demo
        assert tokens.authenticate(acme) == want_acme
    assert tokens.cached(demo) == want_demo
    cached = tokens.cached(acme)
    assert cached is not None and cached.merchant_id == "acme"


@pytest.mark.anyio
async def test_the_api_honours_the_bound(office: Backoffice, tokens: Tokens,
                                         ticks: Ticks) -> None:
    office.tokens = tokens
    token = tokens.create_token("demo", "read")
    transport = httpx.ASGITransport(app=create_app(office))
    async with httpx.AsyncClient(transport=transport, base_url="http://backoffice.test",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        assert (await client.get("/v1/webhooks")).status_code == 200
        remove(office, token)
        ticks.now += TOKEN_CACHE_SECONDS / 2
        assert (await client.get("/v1/webhooks")).status_code == 200
        ticks.now += TOKEN_CACHE_SECONDS / 2
        assert (await client.get("/v1/webhooks")).status_code == 401

"""Tokens have a life: an id and a name, an optional expiry, a last use, a revocation.

The moments are moved by hand (the wall clock for expiry, the monotonic one for the
token cache), never slept through. Across processes: two Backoffice instances on one
database (the same SQLite file, or the same PostgreSQL database), each with its own
token cache, as two servers would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, select

from backoffice import Backoffice, auth
from backoffice.db import tables as t
from backoffice.errors import Forbidden, Invalid, NotFound, Unauthorized
from backoffice.http.api import create_app
from backoffice.tokens import EXPIRED, NOT_VALID, REVOKED, TOKEN_CACHE_SECONDS, Tokens
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
    office.tokens = Tokens(office.db, clock=clock, ticks=ticks)
    return office.tokens


@pytest.fixture
def other_process(db_url: str, db_path: Path, office: Backoffice, clock: Clock,
                  ticks: Ticks) -> Iterator[Backoffice]:
    """A second backoffice on the same database, with a token cache of its own."""
    second = Backoffice.open(db_url, clock=clock, data_dir=db_path.parent)
    second.tokens = Tokens(second.db, clock=clock, ticks=ticks)
    yield second
    second.close()


def test_a_token_has_an_id_a_name_and_no_hash_in_sight(tokens: Tokens, clock: Clock) -> None:
    token, shown = tokens.issue("demo", "manage", name="ci-apply", expires_in="90d")
    assert auth.looks_like_token(token) and auth.looks_like_token_id(shown["id"])
    assert shown == {"id": shown["id"], "name": "ci-apply", "scope": "manage",
                     "created_at": "2026-11-28T04:00:00Z", "expires_at": "2027-02-26T04:00:00Z",
                     "last_used_at": None, "revoked_at": None, "status": "active"}
    _, unnamed = tokens.issue("demo", "reveal")
    assert unnamed["name"] == "reveal-20261128" and unnamed["expires_at"] is None
    listed = tokens.list_tokens("demo")["data"]
    assert [t["id"] for t in listed] == sorted([shown["id"], unnamed["id"]], reverse=True)
    assert token not in repr(listed) and auth.token_hash(token) not in repr(listed)
    assert tokens.get_token("demo", shown["id"]) == shown


def test_the_list_pages_newest_first(tokens: Tokens, clock: Clock) -> None:
    made = []
    for n in range(5):
        made.append(tokens.issue("demo", "read", name=f"t{n}")[1]["id"])
        clock.advance(seconds=1)
    tokens.issue("acme", "read", name="not-demo")
    seen, cursor = [], None
    while True:
        page = tokens.list_tokens("demo", limit=2, cursor=cursor)
        seen += [t["name"] for t in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["t4", "t3", "t2", "t1", "t0"]
    for bad in ("", "x" * 200, "dDE6MjAyNg", "\x00", "t1:2026|tok_x"):
        with pytest.raises(Invalid, match="cursor is not valid"):
            tokens.list_tokens("demo", cursor=bad)


@pytest.mark.parametrize("name", ["", "a" * 65, "bad\x1bname", "rtl\u202ename", "nul\x00",
                                  "-leading", "spa ce", "é", "x/y"])
def test_a_hostile_name_is_refused(tokens: Tokens, name: str) -> None:
    with pytest.raises(Invalid, match="name must be 1 to 64 letters"):
        tokens.issue("demo", "read", name=name)


@pytest.mark.parametrize("lifetime", ["0", "0s", "-5d", "soon", "1e9999", "NaN", "101y",
                                      "999999999w", "90d\x00", "\u202e90d", ""])
def test_a_hostile_lifetime_is_refused(tokens: Tokens, lifetime: str) -> None:
    with pytest.raises(Invalid, match="expires_in"):
        tokens.issue("demo", "read", expires_in=lifetime)
    assert tokens.list_tokens("demo")["data"] == []  # nothing half-written


def test_an_expired_token_is_refused_at_its_expiry_even_from_the_cache(
        tokens: Tokens, clock: Clock, ticks: Ticks) -> None:
    token = tokens.create_token("demo", "read", expires_in="10m")
    assert tokens.authenticate(token).merchant_id == "demo"
    clock.advance(minutes=10, seconds=-1)
    assert tokens.cached(token) is not None  # within the cache's bound, still valid
    clock.advance(seconds=1)  # its expiry: the cache must not carry it further
    assert tokens.cached(token) is None
    with pytest.raises(Unauthorized, match=f"^{EXPIRED}$"):
        tokens.authenticate(token)
    ticks.now += 60  # and from the database too
    with pytest.raises(Unauthorized, match=f"^{EXPIRED}$"):
        tokens.authenticate(token)
    [shown] = tokens.list_tokens("demo")["data"]
    assert shown["status"] == "expired"


def test_a_revocation_here_takes_effect_at_once(tokens: Tokens) -> None:
    token, shown = tokens.issue("demo", "manage", name="leaked")
    assert tokens.authenticate(token).token_id == shown["id"]
    assert tokens.cached(token) is not None
    revoked = tokens.revoke("demo", shown["id"])
    assert revoked["status"] == "revoked" and revoked["revoked_at"] == "2026-11-28T04:00:00Z"
    assert tokens.cached(token) is None
    with pytest.raises(Unauthorized, match=f"^{REVOKED}$"):
        tokens.authenticate(token)
    assert tokens.revoke("demo", shown["id"]) == revoked  # again: nothing changes
    with pytest.raises(NotFound):
        tokens.revoke("acme", shown["id"])  # another merchant's: not even found
    with pytest.raises(NotFound):
        tokens.revoke("demo", "tok_0000000000000000")


def test_a_revocation_elsewhere_takes_effect_within_the_bound(
        tokens: Tokens, other_process: Backoffice, ticks: Ticks) -> None:
    token, shown = tokens.issue("demo", "manage", name="leaked")
    assert tokens.authenticate(token).merchant_id == "demo"  # cached here
    assert other_process.tokens.authenticate(token).merchant_id == "demo"
    other_process.tokens.revoke("demo", shown["id"])  # the other server revokes it
    with pytest.raises(Unauthorized, match=REVOKED):
        other_process.tokens.authenticate(token)  # there: at once
    ticks.now += TOKEN_CACHE_SECONDS - 0.01
    assert tokens.authenticate(token).merchant_id == "demo"  # here: still, the bound
    ticks.now += 0.01
    with pytest.raises(Unauthorized, match=f"^{REVOKED}$"):
        tokens.authenticate(token)


@pytest.mark.anyio
async def test_the_api_says_why_a_token_is_refused_and_nothing_more(
        office: Backoffice, tokens: Tokens, other_process: Backoffice, clock: Clock,
        ticks: Ticks) -> None:
    expiring = tokens.create_token("demo", "read", name="short-lived", expires_in="1h")
    revoked, shown = tokens.issue("demo", "read", name="leaked")
    app = create_app(office)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://backoffice.test") as client:
        async def status(token: str) -> tuple[int, str]:
            answer = await client.get("/v1/webhooks",
                                      headers={"Authorization": f"Bearer {token}"})
            return answer.status_code, answer.json().get("detail", "")

        assert (await status(revoked))[0] == 200
        other_process.tokens.revoke("demo", shown["id"])
        assert (await status(revoked))[0] == 200  # cached: within the bound
        ticks.now += TOKEN_CACHE_SECONDS
        assert await status(revoked) == (401, REVOKED)
        assert (await status(expiring))[0] == 200
        clock.advance(hours=1)
        assert await status(expiring) == (401, EXPIRED)  # from the cache, at its expiry
        assert await status("wbo_" + "A" * 43) == (401, NOT_VALID)
        assert await status("not-a-token") == (401, NOT_VALID)
    for detail in (REVOKED, EXPIRED, NOT_VALID):  # no name, merchant, scope or moment
        assert not any(word in detail for word in ("leaked", "short", "demo", "read", "20"))


def test_last_use_is_written_at_most_once_a_minute(office: Backoffice, tokens: Tokens,
                                                   clock: Clock, ticks: Ticks) -> None:
    token, shown = tokens.issue("demo", "read")
    writes: list[str] = []

    def count(conn: object, cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE TOKENS"):
            writes.append(statement)

    event.listen(office.db.engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            tokens.authenticate(token)
            clock.advance(seconds=5)
            ticks.now += TOKEN_CACHE_SECONDS  # each time a lookup in the database
        assert len(writes) == 1
        assert tokens.get_token("demo", shown["id"])["last_used_at"] == "2026-11-28T04:00:00Z"
        clock.advance(seconds=50)  # a minute after the first use
        tokens.authenticate(token)
        assert len(writes) == 2
        assert tokens.get_token("demo", shown["id"])["last_used_at"] == "2026-11-28T04:01:05Z"
        for _ in range(100):  # a burst inside the cache's bound reads nothing, writes nothing
            tokens.authenticate(token)
        assert len(writes) == 2
    finally:
        event.remove(office.db.engine, "before_cursor_execute", count)


def test_check_hash_is_the_one_validity_check(tokens: Tokens, clock: Clock) -> None:
    """What a session (or anything that kept a token's hash) asks on each request."""
    token, shown = tokens.issue("demo", "reveal", name="web", expires_in="1h")
    key = auth.token_hash(token)
    principal = tokens.check_hash(key)
    assert (principal.merchant_id, principal.token_id, principal.token_name) == (
        "demo", shown["id"], "web")
    assert principal.scopes == {auth.READ, auth.REVEAL}
    clock.advance(hours=1)
    with pytest.raises(Unauthorized, match=EXPIRED):
        tokens.check_hash(key)
    with pytest.raises(Unauthorized, match=NOT_VALID):
        tokens.check_hash(auth.token_hash(auth.new_token()))


def test_scopes_are_ordered_and_a_token_grants_no_more_than_its_own(tokens: Tokens) -> None:
    def principal(scope: str) -> auth.Principal:
        return tokens.authenticate(tokens.create_token("demo", scope))

    reader, revealer, manager = principal("read"), principal("reveal"), principal("manage")
    assert reader.scopes < revealer.scopes < manager.scopes
    with pytest.raises(Forbidden, match="reveal secrets"):
        reader.require(auth.REVEAL)
    revealer.require(auth.REVEAL)
    with pytest.raises(Forbidden, match="manage webhooks"):
        revealer.require(auth.MANAGE)
    assert [s for s in auth.SCOPES if revealer.may_grant(s)] == ["read", "reveal"]
    assert [s for s in auth.SCOPES if manager.may_grant(s)] == ["read", "reveal", "manage"]
    with pytest.raises(Forbidden, match="its own scope or a weaker one"):
        tokens.issue("demo", "manage", creator=revealer)
    assert tokens.issue("demo", "read", creator=revealer)[1]["scope"] == "read"


@pytest.mark.anyio
async def test_tokens_over_the_api(office: Backoffice, tokens: Tokens) -> None:
    manage, own = tokens.issue("demo", "manage", name="admin")
    app = create_app(office)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://backoffice.test",
                                 headers={"Authorization": f"Bearer {manage}"}) as client:
        made = await client.post("/v1/tokens", json={"name": "ci-apply", "scope": "reveal",
                                                      "expires_in": "90d"})
        assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
        body = made.json()
        assert body["scope"] == "reveal" and body["expires_at"] == "2027-02-26T04:00:00Z"
        new = body.pop("token")
        assert tokens.authenticate(new).merchant_id == "demo"
        listed = (await client.get("/v1/tokens")).json()["data"]
        assert {t["id"] for t in listed} == {own["id"], body["id"]}
        assert new not in str(listed) and manage not in str(listed)
        for bad in ({"scope": "admin"}, {"scope": "read", "name": "bad name"},
                    {"scope": "read", "expires_in": "never"},
                    {"scope": "read", "expires_in": 90}, {"scope": "read", "extra": 1},
                    {"scope": "read", "name": "a\u202eb"}):
            refused = await client.post("/v1/tokens", json=bad)
            assert refused.status_code == 422, (bad, refused.text)
        assert len((await client.get("/v1/tokens")).json()["data"]) == 2  # none was made
        gone = await client.delete(f"/v1/tokens/{body['id']}")
        assert gone.status_code == 200 and gone.json()["status"] == "revoked"
        with pytest.raises(Unauthorized, match=REVOKED):
            tokens.authenticate(new)
        # a token may revoke itself; then it is refused at once
        assert (await client.delete(f"/v1/tokens/{own['id']}")).status_code == 200
        assert (await client.get("/v1/tokens")).status_code == 401


def test_the_token_rows_keep_no_token(office: Backoffice, tokens: Tokens) -> None:
    token = tokens.create_token("demo", "manage", name="kept")
    with office.db.read() as conn:
        rows = [tuple(row) for row in conn.execute(select(t.tokens))]
    assert token not in repr(rows) and auth.token_hash(token) in repr(rows)


def test_a_kept_hash_is_rechecked_through_the_cache(tokens: Tokens, ticks: Ticks,
                                                    clock: Clock) -> None:
    """What a sign-in session keeping only the hash gets on each request."""
    token, shown = tokens.issue("demo", "read", name="session", expires_in="10m")
    key = auth.token_hash(token)
    assert tokens.authenticate_hash(key).token_id == shown["id"]
    clock.advance(minutes=10)
    with pytest.raises(Unauthorized, match=EXPIRED):
        tokens.authenticate_hash(key)  # expired: the cache does not carry it
    other, other_shown = tokens.issue("demo", "read", name="other")
    tokens.authenticate_hash(auth.token_hash(other))
    tokens.revoke("demo", other_shown["id"])
    with pytest.raises(Unauthorized, match=REVOKED):
        tokens.authenticate_hash(auth.token_hash(other))

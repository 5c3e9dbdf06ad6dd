"""Fixtures: a real backoffice (on a temp SQLite file, and again on a fresh PostgreSQL
database: ``backend``), its API over httpx.ASGITransport, and a webhook receiver on
loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backoffice import Backoffice
from backoffice.delivery.settings import DeliverySettings
from backoffice.http.api import create_app
from tests.support.backoffice import Clock, Tokens, loopback_resolver
from tests.support.receivers import Receiver


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "backoffice.db"


@pytest.fixture
def db_url(backend: str, db_path: Path, request: pytest.FixtureRequest) -> str:
    """The database of this run of the test: the SQLite file ``db_path``, or a fresh
    PostgreSQL database (its server key and outbox then still go in ``db_path``'s folder)."""
    if backend == "sqlite":
        return f"sqlite:///{db_path}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def office(db_url: str, db_path: Path, clock: Clock) -> Iterator[Backoffice]:
    # The safe delivery defaults, and a resolver that never asks DNS: a test (or the
    # API fuzzer's POST .../test) can reach no address beyond loopback, which the
    # default settings refuse anyway.
    backoffice = Backoffice.open(db_url, clock=clock, data_dir=db_path.parent,
                                 delivery=DeliverySettings(resolver=loopback_resolver))
    backoffice.merchants.create_merchant("acme", "Acme Corp")
    backoffice.merchants.add_store("acme", "ACM-01", "Acme HQ")
    backoffice.merchants.add_terminal("acme", "90001", "ACM-01")
    backoffice.merchants.add_credential("acme", "acme-client-1", "90001")
    yield backoffice
    backoffice.close()


@pytest.fixture
def tokens(office: Backoffice) -> Tokens:
    return Tokens(manage=office.tokens.create_token("demo", "manage"),
                  read=office.tokens.create_token("demo", "read"),
                  other_manage=office.tokens.create_token("acme", "manage"))


@pytest.fixture
async def client(office: Backoffice, tokens: Tokens) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(office))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://backoffice.test",
        headers={"Authorization": f"Bearer {tokens.manage}"},
    ) as http:
        yield http


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()

"""Abuse bounds: each merchant's emits and test-fires a minute, 429 with Retry-After
beyond; counted in the database, so two servers on one database share one bound; and
the CLI shows the wait rather than waiting it out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backoffice import Backoffice
from backoffice.delivery.settings import DeliverySettings
from backoffice.errors import TooManyRequests
from backoffice.http.api import create_app
from reconciler.cli import main
from reconciler.errors import RateLimited
from reconciler.providers.http import HttpProvider
from tests.support.backoffice import Clock, loopback_resolver, url_webhook
from tests.support.processes import Processes
from tests.support.serve import Server, api_env, run_cli, seed

EMIT = {"terminal": "10001", "type": "mbway"}
LIMITS = DeliverySettings(resolver=loopback_resolver, emits_per_minute=3,
                          test_fires_per_minute=2)


def limited(db_url: str, db_path: Path, clock: Clock) -> Backoffice:
    return Backoffice.open(db_url, clock=clock, data_dir=db_path.parent, delivery=LIMITS)


@pytest.fixture
def office(db_url: str, db_path: Path, clock: Clock) -> Iterator[Backoffice]:
    backoffice = limited(db_url, db_path, clock)
    backoffice.merchants.create_merchant("acme", "Acme Corp")
    backoffice.merchants.add_store("acme", "ACM-01", "Acme HQ")
    backoffice.merchants.add_terminal("acme", "90001", "ACM-01")
    yield backoffice
    backoffice.close()


def client_for(office: Backoffice, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(office)),
                             base_url="http://backoffice.test",
                             headers={"Authorization": f"Bearer {token}"})


@pytest.mark.anyio
async def test_emits_over_the_limit_get_429_with_the_wait(office: Backoffice,
                                                          clock: Clock) -> None:
    token = office.tokens.create_token("demo", "manage")
    acme = office.tokens.create_token("acme", "manage")
    async with client_for(office, token) as client, client_for(office, acme) as other:
        for _ in range(3):
            assert (await client.post("/v1/notifications", json=EMIT)).status_code == 201
            clock.advance(seconds=10)
        refused = await client.post("/v1/notifications", json=EMIT)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"  # the first emit leaves the minute then
        assert "3 emits in the last minute" in refused.json()["detail"]
        assert (await other.post("/v1/notifications", json={
            "terminal": "90001", "type": "mbway"})).status_code == 201  # its own bound
        clock.advance(seconds=29)
        assert (await client.post("/v1/notifications", json=EMIT)).headers["retry-after"] == "1"
        clock.advance(seconds=1)
        assert (await client.post("/v1/notifications", json=EMIT)).status_code == 201
        log = (await client.get("/v1/audit", params={"limit": 100})).json()["data"]
    emits = [(e["outcome"], e["status"]) for e in log if e["action"] == "notification.emit"]
    assert emits == [("ok", 201), ("refused", 429), ("refused", 429)] + [("ok", 201)] * 3


@pytest.mark.anyio
async def test_test_fires_over_the_limit_get_429(office: Backoffice, clock: Clock) -> None:
    token = office.tokens.create_token("demo", "manage")
    hook = office.webhooks.create_webhook("demo", url_webhook(url="http://localhost:9/x"))
    async with client_for(office, token) as client:
        path = f"/v1/webhooks/{hook['id']}/test"
        assert [(await client.post(path, json={})).status_code for _ in range(3)] == [
            200, 200, 429]
        clock.advance(seconds=60)
        assert (await client.post(path, json={})).status_code == 200


def test_two_servers_on_one_database_share_the_bound(office: Backoffice, db_url: str,
                                                     db_path: Path, clock: Clock) -> None:
    second = limited(db_url, db_path, clock)
    try:
        office.deliveries.emit_notification("demo", EMIT)
        second.deliveries.emit_notification("demo", EMIT)
        office.deliveries.emit_notification("demo", EMIT)
        with pytest.raises(TooManyRequests):
            second.deliveries.emit_notification("demo", EMIT)
    finally:
        second.close()


@pytest.mark.anyio
async def test_the_provider_reports_a_long_wait_at_once(office: Backoffice) -> None:
    token = office.tokens.create_token("demo", "manage")
    provider = HttpProvider("http://backoffice.test", token,
                            transport=httpx.ASGITransport(app=create_app(office)))
    try:
        for _ in range(3):
            await provider.emit(EMIT)
        started = time.monotonic()
        with pytest.raises(RateLimited, match=r"429 Too many requests.*retry after 60 s") as info:
            await provider.emit(EMIT)
        assert time.monotonic() - started < 5  # not waited out, not retried
        assert info.value.retry_after == 60
    finally:
        await provider.aclose()


def test_serve_refuses_a_bad_limit(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bo.db'}"
    assert main(["serve", "--db", db, "--emits-per-minute", "-1"]) == 2
    assert main(["serve", "--db", db, "--test-fires-per-minute", "many"]) == 2


@pytest.mark.sqlite_only("one real server is enough for the options")
def test_serve_applies_its_limits_and_the_cli_shows_the_wait(
        tmp_path: Path, processes: Processes, backend: str) -> None:
    db = tmp_path / "bo.db"
    manage, _ = seed(db)
    server = Server(processes, db, tmp_path, args=["--emits-per-minute", "2"])
    env = api_env(server.base, manage)
    emit = ("emit", "--terminal", "10001", "--type", "mbway", "-f",
            str(tmp_path / "webhooks.yaml"))
    assert [run_cli(*emit, env=env, cwd=tmp_path).returncode for _ in range(2)] == [0, 0]
    started = time.monotonic()
    third = run_cli(*emit, env=env, cwd=tmp_path)
    assert third.returncode == 1, third.stdout + third.stderr
    assert "429 Too many requests" in third.stderr and "retry after" in third.stderr
    assert "2 emits in the last minute" in third.stderr
    assert time.monotonic() - started < 30  # reported, not waited out
    assert "Internal error" not in third.stderr

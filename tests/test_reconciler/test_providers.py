"""One contract, every provider: the embedded backoffice and the HTTP API (ASGI in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice.facade import Backoffice
from backoffice.http.api import create_app
from reconciler.errors import (
    AuthenticationError,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unavailable,
)
from reconciler.providers import ListFilters, Provider
from reconciler.providers.http import HttpProvider
from tests.support.secrets import CRED_20001, SIBS_SECRET

SECRET = SIBS_SECRET

pytestmark = pytest.mark.anyio


def body(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name, "type": "url", "url": "https://api.shop.example/hooks/sibs",
        "application": "merchant", "notifications": ["mbway"],
        "labels": {"managed-by": "webhooks-reconciler", "owner": "payments"}, **fields,
    }


async def test_create_fetch_update_delete_round_trip(provider: Provider) -> None:
    created = await provider.create(body("orders", secret=SECRET), idempotency_key="k-1")
    assert created.name == "orders" and created.version == 1
    assert created.secret_fingerprint == (await provider.fingerprints()).secret(SECRET)
    assert created.labels == {"managed-by": "webhooks-reconciler", "owner": "payments"}

    [fetched] = await provider.fetch()
    assert fetched == created

    updated = await provider.update(
        created.id, {"notifications": ["xpay", "mbway"]}, if_match=created.version
    )
    assert updated.notifications == ("mbway", "xpay") and updated.version == 2

    await provider.delete(updated.id, if_match=updated.version)
    assert await provider.fetch() == []


async def test_create_with_the_same_idempotency_key_creates_once(provider: Provider) -> None:
    first = await provider.create(body("orders"), idempotency_key="same-key")
    second = await provider.create(body("orders"), idempotency_key="same-key")
    assert first.id == second.id
    assert len(await provider.fetch()) == 1
    with pytest.raises(InvalidRequest):
        await provider.create(body("orders", description="other"), idempotency_key="same-key")


async def test_fetch_pages_through_more_than_one_page(provider: Provider) -> None:
    for i in range(1003):
        await provider.create(body(f"hook-{i:04d}"), idempotency_key=f"k{i}")
    names = [w.name for w in await provider.fetch()]
    assert len(names) == 1003 and len(set(names)) == 1003


async def test_filters_reach_the_backoffice(provider: Provider) -> None:
    await provider.create(body("lisbon", application="store:LIS-01"), idempotency_key="a")
    await provider.create(
        {"name": "porto-mail", "type": "email", "email": "porto@shop.example",
         "application": "store:POR-01", "notifications": ["xpay"]},
        idempotency_key="b",
    )
    by_credential = await provider.fetch(ListFilters(credential=CRED_20001))
    assert [w.name for w in by_credential] == ["porto-mail"]
    assert [w.name for w in await provider.fetch(ListFilters(type="url"))] == ["lisbon"]
    assert [w.name for w in await provider.fetch(ListFilters(notification="xpay"))] == [
        "porto-mail"
    ]
    assert [w.name for w in await provider.fetch(ListFilters(webhook="porto@"))] == ["porto-mail"]


async def test_catalog_names_the_demo_merchant(provider: Provider) -> None:
    catalog = await provider.catalog()
    assert "mbway" in catalog.notification_types
    assert catalog.stores == {"LIS-01", "POR-01"}
    assert catalog.terminals["20001"] == "POR-01"
    assert catalog.credentials[CRED_20001] == "20001"


async def test_refusals_map_to_the_error_tree(provider: Provider) -> None:
    created = await provider.create(body("orders"), idempotency_key="k")
    with pytest.raises(Conflict):
        await provider.create(body("orders"), idempotency_key="other")
    with pytest.raises(PreconditionFailed, match="changed since plan"):
        await provider.update(created.id, {"description": "x"}, if_match=created.version + 5)
    with pytest.raises(PreconditionFailed):
        await provider.delete(created.id, if_match=created.version + 5)
    with pytest.raises(NotFound):
        await provider.delete("wh_doesnotexist", if_match=None)
    with pytest.raises(InvalidRequest, match="application"):
        await provider.create(body("bad", application="store:NOPE"), idempotency_key="n")


async def test_http_provider_names_auth_and_permission_failures(tmp_path: Path) -> None:
    office = Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}")
    read_token = office.tokens.create_token("demo", "read")
    app = create_app(office)
    try:
        bad = HttpProvider("http://bo.test", "wbo_not-a-token", transport=httpx.ASGITransport(app))
        with pytest.raises(AuthenticationError) as auth_error:
            await bad.fetch()
        assert "wbo_not-a-token" not in str(auth_error.value)
        await bad.aclose()

        reader = HttpProvider("http://bo.test", read_token, transport=httpx.ASGITransport(app))
        assert await reader.fetch() == []
        with pytest.raises(PermissionDenied, match="manage webhooks") as denied:
            await reader.create(body("orders"), idempotency_key="k")
        assert read_token not in str(denied.value)
        await reader.aclose()
    finally:
        office.close()


async def test_http_provider_retries_honouring_retry_after(tmp_path: Path) -> None:
    office = Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}")
    token = office.tokens.create_token("demo", "manage")
    app_transport = httpx.ASGITransport(create_app(office))
    seen: list[str] = []

    class Flaky(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.method)
            if len(seen) <= 2:
                return httpx.Response(503, headers={"Retry-After": "0"})
            return await app_transport.handle_async_request(request)

    provider = HttpProvider("http://bo.test", token, transport=Flaky())
    try:
        assert await provider.fetch() == []
        assert seen == ["GET", "GET", "GET"]
    finally:
        await provider.aclose()
        office.close()


async def test_http_provider_connection_refused_is_one_clear_line() -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = HttpProvider(
        f"http://user:hunter2@127.0.0.1:{port}", "tok-secret", retries=1, backoff=0.01
    )
    with pytest.raises(Unavailable) as exc:
        await provider.fetch()
    message = str(exc.value)
    assert "cannot reach" in message and "hunter2" not in message and "tok-secret" not in message
    await provider.aclose()


async def test_reveal_a_secret_and_read_the_audit_log(provider: Provider) -> None:
    created = await provider.create(body("orders", secret=SECRET), idempotency_key="r-1")
    mail = await provider.create({"name": "mail", "type": "email", "email": "ops@shop.example",
                                  "application": "merchant", "notifications": ["mbway"]},
                                 idempotency_key="r-2")
    revealed = await provider.reveal_secret(created.id)
    assert revealed == {"webhook_id": created.id, "name": "orders", "secret": SECRET,
                        "secret_fingerprint": (await provider.fingerprints()).secret(SECRET)}
    with pytest.raises(InvalidRequest, match="e-mail webhooks have no secret"):
        await provider.reveal_secret(mail.id)
    with pytest.raises(NotFound):
        await provider.reveal_secret("wh_000000000000")
    entries = await provider.audit()
    assert [(e["action"], e["target_name"], e["outcome"]) for e in entries[:3]] == [
        ("secret.reveal", None, "refused"), ("secret.reveal", None, "refused"),
        ("secret.reveal", "orders", "ok")]
    assert [e["status"] for e in entries[:2]] == [404, 422]
    assert SECRET not in repr(entries)
    assert await provider.audit(limit=1) == entries[:1]
    assert await provider.audit(since="2999-01-01T00:00:00Z") == []
    with pytest.raises(InvalidRequest, match="since"):
        await provider.audit(since="soon")

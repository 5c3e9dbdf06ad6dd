"""Every operation in /openapi.json x every kind of caller: who may do what.

The operations come from the served OpenAPI document, so a new endpoint fails here until
its row is added to OPERATIONS. Callers: no token, a malformed token, an unknown token,
a read token, a manage token, and another merchant's manage token (who must not even
learn that this merchant's webhooks exist: 404, and nothing changes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from backoffice import Backoffice
from backoffice.http.api import create_app
from tests.support.backoffice import Tokens, email_webhook, url_webhook

pytestmark = pytest.mark.anyio

PUBLIC, READ, MANAGE = "public", "read", "manage"
# Refused before anything is sent (a private address; and nothing listens on port 9).
REFUSED_URL = "http://127.0.0.1:9/authz"
Body = Callable[[int], dict[str, Any] | None]


@dataclass(frozen=True)
class Operation:
    """What an operation needs, and what its callers get when allowed."""

    needs: str
    ok: int  # for the token's own merchant
    other: int  # for another merchant's manage token
    body: Body = lambda _: None
    target: str = "url"  # the kind of webhook a {webhook_id} path names
    # A {delivery_id} path names a test delivery of that webhook (refused before sending).


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/healthz"): Operation(PUBLIC, 200, 200),
    ("GET", "/readyz"): Operation(PUBLIC, 200, 200),
    ("GET", "/metrics"): Operation(PUBLIC, 200, 200),
    ("GET", "/v1/catalog"): Operation(READ, 200, 200),
    ("GET", "/v1/webhooks"): Operation(READ, 200, 200),
    ("POST", "/v1/webhooks"): Operation(
        MANAGE, 201, 201, lambda n: url_webhook(f"authz-new-{n}", url=REFUSED_URL)),
    ("GET", "/v1/webhooks/{webhook_id}"): Operation(READ, 200, 404),
    ("PATCH", "/v1/webhooks/{webhook_id}"): Operation(
        MANAGE, 200, 404, lambda _: {"description": "changed by the matrix"}),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Operation(MANAGE, 204, 404),
    ("POST", "/v1/webhooks/{webhook_id}/test"): Operation(MANAGE, 200, 404, lambda _: {}),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): Operation(READ, 200, 404),
    # An e-mail webhook covers terminal 10001: the emit makes a pending delivery, and
    # nothing is sent (no worker runs here). Terminal 10001 is not the other merchant's.
    ("POST", "/v1/notifications"): Operation(
        MANAGE, 201, 422, lambda _: {"terminal": "10001", "type": "mbway"}, target="email"),
    ("GET", "/v1/deliveries"): Operation(READ, 200, 200),
    ("GET", "/v1/deliveries/{delivery_id}"): Operation(READ, 200, 404),
    ("POST", "/v1/deliveries/{delivery_id}/resend"): Operation(MANAGE, 202, 404),
    ("POST", "/v1/webhooks/{webhook_id}/recover"): Operation(
        MANAGE, 202, 404, lambda _: {"since": "1h"}),
    ("POST", "/v1/webhooks/{webhook_id}/secret:rotate"): Operation(
        MANAGE, 200, 404, lambda _: {"grace_seconds": 60}),
}
CALLERS = ("none", "malformed", "unknown", "read", "manage", "other")


def spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
    return {(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in methods}


def expected(op: Operation, caller: str) -> int:
    if op.needs == PUBLIC:
        return op.ok
    if caller in ("none", "malformed", "unknown"):
        return 401
    if caller == "read" and op.needs == MANAGE:
        return 403
    return op.other if caller == "other" else op.ok


def auth(tokens: Tokens, caller: str) -> dict[str, str]:
    token = {"none": None, "malformed": "not-a-token",
             "unknown": "wbo_" + "A" * 43,  # well-formed, issued to nobody
             "read": tokens.read, "manage": tokens.manage, "other": tokens.other_manage}[caller]
    return {} if token is None else {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def http(office: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(office))
    async with httpx.AsyncClient(transport=transport, base_url="http://backoffice.test") as c:
        yield c


async def test_the_matrix_names_every_operation_of_the_api(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    assert spec_operations(spec) == set(OPERATIONS), (
        "the API and the matrix differ: give each new operation its row in OPERATIONS")
    # The spec says the same: every operation but the public ones asks for the bearer.
    for (method, path), op in OPERATIONS.items():
        secured = bool(spec["paths"][path][method.lower()].get("security"))
        assert secured == (op.needs != PUBLIC), (method, path)


@pytest.mark.parametrize("caller", CALLERS)
async def test_every_operation_for(caller: str, http: httpx.AsyncClient, office: Backoffice,
                                   tokens: Tokens) -> None:
    spec = (await http.get("/openapi.json")).json()
    wrong = []
    for n, (method, path) in enumerate(sorted(spec_operations(spec))):
        op = OPERATIONS[(method, path)]
        make = email_webhook if op.target == "email" else url_webhook
        target = office.webhooks.create_webhook(
            "demo", make(f"authz-{caller}-{n}", **({"url": REFUSED_URL}
                                                  if op.target == "url" else {})))
        url = path.replace("{webhook_id}", target["id"])
        delivery = None
        if "{delivery_id}" in path:
            delivery = office.deliveries.test_webhook("demo", target["id"])["delivery_id"]
            url = url.replace("{delivery_id}", delivery)
        body = op.body(n)
        response = await http.request(method, url, json=body, headers=auth(tokens, caller))
        want = expected(op, caller)
        if response.status_code != want:
            wrong.append(f"{method} {path}: {response.status_code}, not {want}: "
                         f"{response.text[:200]}")
            continue
        problem = response.json() if response.status_code >= 400 else {}
        if want == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.headers["content-type"] == "application/problem+json"
        if want == 403:
            assert "manage webhooks" in problem["detail"], (method, path)
        if caller == "other" and "{webhook_id}" in path:
            # Not even its existence leaks, and it is untouched.
            assert problem["detail"] == f"no webhook with id {target['id']!r}"
            assert office.webhooks.get_webhook("demo", target["id"])["version"] == 1
        if caller == "other" and delivery is not None:
            assert problem["detail"] == f"no delivery with id {delivery!r}"
            assert office.delivery_log.get_delivery("demo", delivery)["status"] == "gave_up"
        if caller == "other" and (method, path) == ("GET", "/v1/deliveries"):
            assert response.json()["data"] == []
        if caller == "other" and (method, path) == ("GET", "/v1/webhooks"):
            assert response.json()["data"] == []
        if caller == "other" and (method, path) == ("POST", "/v1/webhooks"):
            names = [w["name"] for w in office.webhooks.list_webhooks("demo", limit=1000).data]
            assert f"authz-new-{n}" not in names
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("caller", ["none", "unknown", "read"])
async def test_refusal_comes_before_reading_the_body(caller: str, http: httpx.AsyncClient,
                                                     office: Backoffice,
                                                     tokens: Tokens) -> None:
    # A caller who may not write learns nothing from body validation: 401/403, not 422.
    # (A body that is not JSON at all still gets 422 first: FastAPI parses JSON before it
    # resolves dependencies. That tells the caller nothing about the merchant's data.)
    target = office.webhooks.create_webhook("demo", url_webhook("authz-body", url=REFUSED_URL))
    for (method, path), op in OPERATIONS.items():
        if op.needs != MANAGE:
            continue
        url = path.replace("{webhook_id}", target["id"]).replace("{delivery_id}", "dl_x")
        response = await http.request(method, url, content=b'{"junk": [1, 2]}',
                                      headers={**auth(tokens, caller),
                                               "Content-Type": "application/json"})
        assert response.status_code == (403 if caller == "read" else 401), (method, path)

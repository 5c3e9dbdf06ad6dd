"""Every endpoint and rule through the real app over httpx.ASGITransport."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice import Backoffice
from tests.support.backoffice import Tokens, email_webhook, stored_bytes, url_webhook
from tests.support.secrets import CRED_10001, CRED_10002, CRED_20001, SIBS_SECRET

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, detail: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert set(body) >= {"type", "title", "status", "detail"}
    if detail is not None:
        assert detail in body["detail"]


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/v1/webhooks", params=params)
    assert response.status_code == 200, response.text
    return [w["name"] for w in response.json()["data"]]


async def test_healthz_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Authorization": ""})
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_create_then_get(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/webhooks", json=url_webhook(secret=SIBS_SECRET))
    assert response.status_code == 201
    created = response.json()
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/webhooks/{created['id']}"
    assert "secret" not in created and created["secret_fingerprint"].startswith("sha256:")
    got = await client.get(f"/v1/webhooks/{created['id']}")
    assert (got.status_code, got.json(), got.headers["etag"]) == (200, created, '"1"')


async def test_name_taken_is_409(client: httpx.AsyncClient) -> None:
    await create(client, url_webhook())
    assert_problem(await client.post("/v1/webhooks", json=url_webhook()), 409,
                   "a webhook named 'orders-backend' already exists")


async def test_rule_violations_are_422_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/webhooks",
                                 json=url_webhook(application="store:NOWHERE"))
    assert_problem(response, 422, "unknown store 'NOWHERE'")
    response = await client.post("/v1/webhooks", json=url_webhook(url="http://api.example/"))
    assert_problem(response, 422, "url must use https")
    response = await client.post("/v1/webhooks", json=url_webhook(name="Bad Name"))
    assert_problem(response, 422, "body.name")


async def test_catalog(client: httpx.AsyncClient, office: Backoffice) -> None:
    response = await client.get("/v1/catalog")
    assert (response.status_code, response.json()) == (200, {
        **office.merchants.catalog("demo"), "policy": {"private_targets": "refused"}})


# --- the list and its filters ------------------------------------------------------------


@pytest.fixture
async def five(client: httpx.AsyncClient) -> None:
    await create(client, url_webhook("a"))  # merchant, [mbway, authorised-payment]
    await create(client, email_webhook("b"))  # store:LIS-01, [mbway]
    await create(client, url_webhook("c", url="https://porto.shop.example/xpay",
                                     application="terminal:20001", notifications=["xpay"]))
    await create(client, email_webhook("d", email="ops@Porto.example",
                                       application="terminal:10002", notifications=["qr-code"]))
    await create(client, url_webhook("e", url="https://hooks.example/POR_1",
                                     application="store:POR-01", notifications=["xpay", "mbway"]))


@pytest.mark.usefixtures("five")
@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["a", "b", "c", "d", "e"]),
    ({"credential": CRED_10001}, ["a", "b"]),
    ({"credential": CRED_10002}, ["a", "b", "d"]),
    ({"credential": CRED_20001}, ["a", "c", "e"]),
    ({"notification": "mbway"}, ["a", "b", "e"]),
    ({"notification": "mb-reference"}, []),
    ({"type": "email"}, ["b", "d"]),
    ({"type": "url"}, ["a", "c", "e"]),
    ({"webhook": "porto"}, ["c", "d"]),
    ({"webhook": "PORTO.SHOP"}, ["c"]),
    ({"webhook": "_"}, ["e"]),  # LIKE wildcards are literal text
    ({"webhook": "%"}, []),
    ({"credential": CRED_20001, "notification": "xpay"}, ["c", "e"]),
    ({"credential": CRED_20001, "notification": "xpay", "type": "url", "webhook": "hooks"},
     ["e"]),
    ({"credential": CRED_10002, "type": "email", "notification": "qr-code"}, ["d"]),
])
async def test_filters_alone_and_combined(client: httpx.AsyncClient, params: dict[str, str],
                                          expected: list[str]) -> None:
    assert await names(client, **params) == expected


@pytest.mark.usefixtures("five")
async def test_pages_follow_the_cursor(client: httpx.AsyncClient) -> None:
    seen, cursor = [], None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/webhooks", params=params)).json()
        seen.append([w["name"] for w in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [["a", "b"], ["c", "d"], ["e"]]
    filtered = (await client.get("/v1/webhooks", params={"limit": 1, "type": "email"})).json()
    assert [w["name"] for w in filtered["data"]] == ["b"]
    rest = await names(client, limit=1, type="email", cursor=filtered["next_cursor"])
    assert rest == ["d"]


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 1001}, {"limit": "many"}, {"cursor": "not-a-cursor"},
    {"notification": "sms"}, {"type": "fax"}, {"credential": "nobody"}, {"webhook": "x" * 257},
    {"notifcation": "mbway"},  # a misspelt filter must not list everything
])
async def test_bad_list_parameters_are_422(client: httpx.AsyncClient,
                                           params: dict[str, Any]) -> None:
    assert_problem(await client.get("/v1/webhooks", params=params), 422)


# --- idempotency ---------------------------------------------------------------------------


async def test_idempotency_key_replays_and_refuses_another_body(
        client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "create-orders-1"}
    first = await client.post("/v1/webhooks", json=url_webhook(), headers=key)
    again = await client.post("/v1/webhooks", json=url_webhook(), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert await names(client) == ["orders-backend"]
    other = await client.post("/v1/webhooks", json=url_webhook(name="other"), headers=key)
    assert_problem(other, 422, "Idempotency-Key was used with a different body")
    assert other.json()["title"] == "Idempotency key reused"


# --- ETag and If-Match -----------------------------------------------------------------------


async def test_if_match_guards_patch_and_delete(client: httpx.AsyncClient) -> None:
    created = await create(client, url_webhook())
    path = f"/v1/webhooks/{created['id']}"
    patched = await client.patch(path, json={"description": "v2"}, headers={"If-Match": '"1"'})
    assert (patched.status_code, patched.headers["etag"]) == (200, '"2"')
    assert patched.json()["version"] == 2
    stale = await client.patch(path, json={"description": "lost"}, headers={"If-Match": '"1"'})
    assert_problem(stale, 412, "at version 2, not 1")
    weak = await client.patch(path, json={"enabled": False}, headers={"If-Match": 'W/"2"'})
    assert weak.status_code == 200 and weak.headers["etag"] == '"3"'
    several = await client.patch(path, json={"enabled": True},
                                 headers={"If-Match": '"1", "3"'})
    assert several.status_code == 200 and several.headers["etag"] == '"4"'
    star = await client.patch(path, json={"description": "v5"}, headers={"If-Match": "*"})
    assert star.json()["version"] == 5
    assert_problem(await client.patch(path, json={}, headers={"If-Match": "5"}), 400,
                   "If-Match must be an entity tag")
    assert_problem(await client.patch(path, json={}, headers={"If-Match": '"abc"'}), 412,
                   "at version 5, which If-Match does not name")
    assert_problem(await client.patch(path, json={}, headers={"If-Match": '"1", "2"'}), 412)
    assert_problem(await client.delete(path, headers={"If-Match": '"4"'}), 412)
    assert (await client.get(path)).json()["description"] == "v5"
    deleted = await client.delete(path, headers={"If-Match": '"5"'})
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_problem(await client.get(path), 404)
    assert_problem(await client.delete(path), 404)


async def test_patch_without_if_match(client: httpx.AsyncClient) -> None:
    created = await create(client, url_webhook())
    path = f"/v1/webhooks/{created['id']}"
    response = await client.patch(path, json={"labels": {"owner": "payments-team"},
                                              "support_email": "ops@shop.example"})
    assert response.status_code == 200
    assert response.json()["labels"] == {"owner": "payments-team"}
    assert_problem(await client.patch(path, json={"name": "Not A Name"}), 422, "body.name")
    assert_problem(await client.patch(path, json={"format": "standard-webhooks"}), 422,
                   "send a new secret together with the format change")


# --- authentication and tenancy ------------------------------------------------------------


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer wbo_" + "A" * 43,
])
async def test_missing_or_bad_token_is_401(client: httpx.AsyncClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    async with httpx.AsyncClient(transport=client._transport,
                                 base_url="http://backoffice.test") as anonymous:
        for response in (await anonymous.get("/v1/webhooks", headers=headers),
                         await anonymous.post("/v1/webhooks", json=url_webhook(),
                                              headers=headers),
                         await anonymous.get("/v1/catalog", headers=headers)):
            assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")


async def test_read_token_cannot_write(client: httpx.AsyncClient, tokens: Tokens) -> None:
    created = await create(client, url_webhook())
    path = f"/v1/webhooks/{created['id']}"
    read = bearer(tokens.read)
    assert (await client.get(path, headers=read)).status_code == 200
    assert (await client.get("/v1/webhooks", headers=read)).status_code == 200
    for response in (await client.post("/v1/webhooks", json=url_webhook("x"), headers=read),
                     await client.patch(path, json={"enabled": False}, headers=read),
                     await client.delete(path, headers=read)):
        assert_problem(response, 403)
        assert response.json()["detail"] == "this token lacks the permission to manage webhooks"
    assert (await client.get(path)).json() == created


async def test_another_merchants_webhook_is_404(client: httpx.AsyncClient,
                                                tokens: Tokens) -> None:
    ours = await create(client, url_webhook())
    theirs = bearer(tokens.other_manage)
    path = f"/v1/webhooks/{ours['id']}"
    assert_problem(await client.get(path, headers=theirs), 404)
    assert_problem(await client.patch(path, json={"enabled": False}, headers=theirs), 404)
    assert_problem(await client.delete(path, headers=theirs), 404)
    listed = await client.get("/v1/webhooks", headers=theirs)
    assert listed.json() == {"data": [], "next_cursor": None}
    catalog = (await client.get("/v1/catalog", headers=theirs)).json()
    assert catalog["stores"] == [{"code": "ACM-01", "name": "Acme HQ"}]
    assert (await client.get(path)).json() == ours


# --- secrets ---------------------------------------------------------------------------------


async def test_secret_is_never_returned_nor_stored_in_clear(
        client: httpx.AsyncClient, tokens: Tokens, office: Backoffice, db_path: Path) -> None:
    created = await create(client, url_webhook(secret=SIBS_SECRET))
    path = f"/v1/webhooks/{created['id']}"
    rotated = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="
    responses = [
        await client.get(path), await client.get("/v1/webhooks"),
        await client.patch(path, json={"secret": rotated}),
        await client.post("/v1/webhooks", json=url_webhook(secret=SIBS_SECRET),
                          headers={"Idempotency-Key": "k"}),
        await client.post("/v1/webhooks", json=url_webhook("b", secret=SIBS_SECRET),
                          headers={"Idempotency-Key": "k"}),
        await client.post("/v1/webhooks", json=url_webhook("c", secret=SIBS_SECRET[:-2])),
    ]
    for response in responses:
        assert SIBS_SECRET not in response.text and rotated not in response.text
        assert SIBS_SECRET[:-2] not in response.text
    stored = stored_bytes(office, db_path.parent)
    assert len(stored) > 0
    for secret in (SIBS_SECRET, rotated):
        assert secret.encode() not in stored
        assert base64.b64decode(secret) not in stored
    for token in (tokens.manage, tokens.read, tokens.other_manage):
        assert token.encode() not in stored


async def test_one_log_line_per_request_without_secrets(
        client: httpx.AsyncClient, tokens: Tokens, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="backoffice.access")
    await client.post("/v1/webhooks", json=url_webhook(secret=SIBS_SECRET))
    await client.get("/v1/webhooks", params={"webhook": "secret-text", "access_token": "t0p"})
    await client.get("/nowhere%0Aforged%20200")
    lines = [r.getMessage() for r in caplog.records if r.name == "backoffice.access"]
    assert len(lines) == 3
    assert lines[0].startswith("POST /v1/webhooks 201 ")
    assert lines[1].startswith("GET /v1/webhooks 422 ") and lines[1].endswith("ms")
    assert lines[2].startswith("GET /nowhere\\x0aforged 200 404 ")
    text = "\n".join(lines)
    for leaked in (SIBS_SECRET, tokens.manage, "secret-text", "t0p", "Bearer"):
        assert leaked not in text


async def test_openapi_documents_errors_as_problems(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json", headers={"Authorization": ""})).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "secret" not in schemas["Webhook"]["properties"]
    assert schemas["WebhookCreate"]["properties"]["secret"]["anyOf"][0]["writeOnly"] is True
    assert schemas["WebhookCreate"]["additionalProperties"] is False
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert list(response["content"]) == [PROBLEM], (method, path, code)
            for parameter in operation.get("parameters", []):
                assert "anyOf" not in parameter["schema"], (method, path, parameter["name"])
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"

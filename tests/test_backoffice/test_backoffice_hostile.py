"""Hostile requests get 4xx problem responses, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.backoffice import url_webhook

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}


def problem_status(response: httpx.Response) -> int:
    assert response.headers["content-type"] == PROBLEM, response.text
    body = response.json()
    assert body["status"] == response.status_code
    assert isinstance(body["detail"], str) and body["detail"]
    return response.status_code


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


HOSTILE_BODIES: list[tuple[str, bytes, int]] = [
    ("invalid utf-8", b'{"name": "\xff\xfe"}', 400),
    ("bare invalid utf-8", b"\xff\xfe\xfd", 400),
    ("deeply nested arrays", b"[" * 200_000 + b"]" * 200_000, 400),
    ("deeply nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 400),
    ("nested inside a field", dumps(url_webhook(labels={"a": [[[[[["x"]]]]]]})), 422),
    ("huge integer", b'{"version": ' + b"9" * 50_000 + b"}", 400),
    ("NaN", b'{"enabled": NaN}', 422),
    ("not JSON", b"name=orders", 422),
    ("truncated JSON", b'{"name": "orders', 422),
    ("array", b"[]", 422),
    ("string", b'"webhook"', 422),
    ("number", b"42", 422),
    ("null", b"null", 422),
    ("empty", b"", 422),
    ("unknown field", dumps({**url_webhook(), "admin": True}), 422),
    ("wrong types", dumps(url_webhook(name=42, notifications="mbway", enabled="yes")), 422),
    ("labels as list", dumps(url_webhook(labels=["a"])), 422),
    ("too many labels", dumps(url_webhook(labels={f"k{i}": "v" for i in range(33)})), 422),
    ("huge url", dumps(url_webhook(url="https://a.example/" + "x" * 5000)), 422),
    ("huge description", dumps(url_webhook(description="d" * 900_000)), 422),
    ("huge secret", dumps(url_webhook(secret="s" * 10_000)), 422),
    ("control characters", dumps(url_webhook(url="https://a.example/\x00\x07")), 422),
    ("many notifications", dumps(url_webhook(notifications=["mbway"] * 100_000)), 422),
    ("over 1 MiB", dumps(url_webhook(description="d" * (1 << 20))), 413),
]


@pytest.mark.parametrize(("content", "status"),
                         [pytest.param(c, s, id=i) for i, c, s in HOSTILE_BODIES])
async def test_hostile_create_bodies(client: httpx.AsyncClient, content: bytes,
                                     status: int) -> None:
    response = await client.post("/v1/webhooks", content=content, headers=JSON)
    assert problem_status(response) == status
    assert (await client.get("/v1/webhooks")).json()["data"] == []


@pytest.mark.parametrize(("content", "status"),
                         [pytest.param(c, s, id=i) for i, c, s in HOSTILE_BODIES])
async def test_hostile_patch_bodies(client: httpx.AsyncClient, content: bytes,
                                    status: int) -> None:
    created = (await client.post("/v1/webhooks", json=url_webhook())).json()
    response = await client.patch(f"/v1/webhooks/{created['id']}", content=content,
                                  headers=JSON)
    assert 400 <= problem_status(response) < 500
    assert (await client.get(f"/v1/webhooks/{created['id']}")).json() == created


async def test_unparseable_bodies_say_why(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/webhooks", content=b"\xff", headers=JSON)
    assert response.json()["detail"] == (
        "the body could not be parsed: send UTF-8 JSON of reasonable depth")
    response = await client.post("/v1/webhooks", content=b'{"name": ', headers=JSON)
    assert response.json()["detail"] == "body: not valid JSON: Expecting value at character 9"


async def test_a_streamed_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"description": "'
        for _ in range(40):
            yield b"d" * 65_536
        yield b'"}'

    response = await client.post("/v1/webhooks", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert problem_status(response) == 413


async def test_a_lying_content_length_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/webhooks", content=b"{}",
                                 headers={**JSON, "Content-Length": "many"})
    assert problem_status(response) == 400
    response = await client.get("/v1/webhooks", headers={"Content-Length": str(10 << 20)})
    assert problem_status(response) == 413


@pytest.mark.parametrize("query", [
    "limit=abc", "limit=-1", "limit=99999999999999999999999", "cursor=" + "c" * 100,
    "webhook=" + "w" * 300, "notification=%00", "type=url&type=email", "webhook=a&webhook=",
    "credential=" + "x" * 100, "webhook=%00", "webhook=a%E2%80%AEb", "webhook=%7F",
])
async def test_hostile_queries(client: httpx.AsyncClient, query: str) -> None:
    assert problem_status(await client.get(f"/v1/webhooks?{query}")) == 422


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/v1/webhooks/" + "w" * 65, 422),
    ("GET", "/v1/webhooks/%F0%9F%92%A5", 404),
    ("GET", "/v1/webhooks/..%2F..%2Fetc", 404),
    ("GET", "/v2/webhooks", 404),
    ("GET", "/nothing-here", 404),  # (/ itself is the web pages' entry: see test_web_pages)
    ("PUT", "/v1/webhooks/wh_x", 405),
    ("POST", "/v1/catalog", 405),
])
async def test_hostile_paths(client: httpx.AsyncClient, method: str, path: str,
                             status: int) -> None:
    response = await client.request(method, path)
    assert problem_status(response) == status
    if status == 405:
        assert response.headers["allow"]


async def test_hostile_headers(client: httpx.AsyncClient) -> None:
    created = (await client.post("/v1/webhooks", json=url_webhook())).json()
    path = f"/v1/webhooks/{created['id']}"
    for if_match in (b'"' + b"9" * 40 + b'"', b"W/", b'"', b",,,", b"x" * 1001,
                     b'"\xb2"', b'"\xd9\xa3"'):  # superscript two; Arabic-Indic three
        response = await client.patch(path, json={}, headers={"If-Match": if_match})
        assert problem_status(response) in (400, 412, 422)
    long_key = {"Idempotency-Key": "k" * 256}
    assert problem_status(await client.post("/v1/webhooks", json=url_webhook("b"),
                                            headers=long_key)) == 422
    odd_key = {"Idempotency-Key": "tab\there"}
    assert problem_status(await client.post("/v1/webhooks", json=url_webhook("b"),
                                            headers=odd_key)) == 422
    huge_token = {"Authorization": "Bearer " + "t" * 10_000}
    assert problem_status(await client.get("/v1/webhooks", headers=huge_token)) == 401

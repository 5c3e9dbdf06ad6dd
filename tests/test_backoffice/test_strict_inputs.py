"""Strict inputs at the API: a JSON key given twice, control and bidirectional characters,
and URLs to literal private addresses are refused, each with a problem naming why.

Through the real app over httpx.ASGITransport, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from backoffice import Backoffice
from backoffice.delivery.settings import DeliverySettings
from backoffice.http.api import create_app
from backoffice.http.strict_json import StrictJSONRoute
from tests.support.backoffice import Tokens, email_webhook, loopback_resolver, url_webhook

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """The API's routes, those of included routers too."""
    found: list[APIRoute] = []
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            found.extend(api_routes(included.routes))
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def body_operations(office: Backoffice) -> list[tuple[str, str]]:
    """Every (method, path) of the API that reads a request body."""
    return [(method, route.path) for route in api_routes(create_app(office).routes)
            if route.body_field is not None for method in sorted(route.methods)]


def test_every_route_that_reads_a_body_reads_it_strictly(office: Backoffice) -> None:
    # A new router's routes escape this unless it is made with route_class=StrictJSONRoute.
    routes = [r for r in api_routes(create_app(office).routes) if r.body_field is not None]
    assert routes and all(isinstance(r, StrictJSONRoute) for r in routes), [
        r.path for r in routes if not isinstance(r, StrictJSONRoute)]
    # Not vacuous: these take bodies.
    assert {("POST", "/v1/webhooks"), ("PATCH", "/v1/webhooks/{webhook_id}"),
            ("POST", "/v1/notifications")} <= set(body_operations(office))


async def test_a_key_given_twice_is_refused_on_every_body(
        client: httpx.AsyncClient, office: Backoffice) -> None:
    target = office.webhooks.create_webhook("demo", url_webhook("strict-target"))
    for method, path in body_operations(office):
        url = path.replace("{webhook_id}", target["id"]).replace("{delivery_id}", "dl_x")
        for body, key in ((b'{"type": "url", "type": "email"}', "type"),
                          (b'{"labels": {"a": "1", "a": "2"}}', "a"),
                          (b'[{"x": 1}, {"y": 2, "y": 3}]', "y")):
            response = await client.request(method, url, content=body, headers=JSON)
            assert response.status_code == 400, (method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert (f"the key {key!r} is given twice in one object"
                    in response.json()["detail"]), (method, path)
    # The very body without the repeat is taken: the refusal is the repeat alone.
    created = await client.post("/v1/webhooks", headers=JSON, content=(
        b'{"name": "once", "type": "url", "url": "https://hooks.shop.example/x", '
        b'"application": "merchant", "notifications": ["mbway"], "labels": {"a": "1"}}'))
    assert created.status_code == 201, created.text
    twice = await client.post("/v1/webhooks", headers=JSON, content=(
        b'{"name": "twice", "type": "url", "url": "https://hooks.shop.example/x", '
        b'"application": "merchant", "notifications": ["mbway"], "type": "email"}'))
    assert twice.status_code == 400
    assert sorted(w["name"] for w in office.webhooks.list_webhooks("demo").data) == [
        "once", "strict-target"]


HOSTILE = ["\x00", "\x01", "\r", "\x1b", "\x7f", "\x85", "\x9b", "\u202e", "\u202a", "\u2066",
           "\u2069", "\u200e", "\u200f", "\u061c"]
FIELDS: dict[str, Any] = {  # field -> where a character goes in a good value
    "url": lambda c: f"https://hooks.shop.example/a{c}b",
    "email": lambda c: f"ops{c}x@shop.example",
    "support_email": lambda c: f"ops{c}x@shop.example",
    "description": lambda c: f"Order{c} service",
    "labels": lambda c: {"team": f"pay{c}ments"},
}


@pytest.mark.parametrize("field", sorted(FIELDS))
async def test_control_and_bidirectional_characters_are_refused_at_create_and_update(
        client: httpx.AsyncClient, office: Backoffice, field: str) -> None:
    kind = "email" if field == "email" else "url"
    target = office.webhooks.create_webhook(
        "demo", (email_webhook if kind == "email" else url_webhook)("strict-chars"))
    for char in HOSTILE:
        value = FIELDS[field](char)
        base = email_webhook if kind == "email" else url_webhook
        body = base(f"made-{ord(char):x}", **{field: value})
        if kind == "email" and field == "email":
            body["application"] = "merchant"
        # As escaped JSON: "\ud800" (a lone surrogate) can be sent no other way.
        for response in (await client.post("/v1/webhooks", content=json.dumps(body),
                                           headers=JSON),
                         await client.patch(f"/v1/webhooks/{target['id']}", headers=JSON,
                                            content=json.dumps({field: value}))):
            assert response.status_code == 422, (field, repr(char), response.text)
            detail = response.json()["detail"]
            assert detail.startswith(f"{'labels.team' if field == 'labels' else field} "
                                     "must not contain "), detail
            assert f"(U+{ord(char):04X} at character " in detail, detail
    # A lone surrogate (JSON "\ud800") is no text: the API's types refuse it first.
    surrogate = json.dumps({field: FIELDS[field]("\ud800")})
    response = await client.patch(f"/v1/webhooks/{target['id']}", headers=JSON, content=surrogate)
    assert response.status_code == 422, response.text
    assert sorted(w["name"] for w in office.webhooks.list_webhooks("demo").data) == [
        "strict-chars"]


async def test_a_name_with_a_control_character_is_refused(client: httpx.AsyncClient) -> None:
    for char in ("\x00", "\n", "\u202e"):
        response = await client.post("/v1/webhooks", json=url_webhook(f"ab{char}c"))
        assert response.status_code == 422, response.text


async def test_a_description_keeps_its_lines_and_tabs(client: httpx.AsyncClient) -> None:
    text = "first line\n\tsecond, indented"
    response = await client.post("/v1/webhooks", json=url_webhook("lines", description=text))
    assert response.status_code == 201, response.text
    assert response.json()["description"] == text


PRIVATE = ["http://127.0.0.1:9999/hooks", "https://127.0.0.1/h", "http://[::1]:9/x",
           "https://169.254.169.254/latest/meta-data", "https://[fe80::1]/", "https://10.0.0.1/",
           "https://172.16.5.4/", "https://192.168.1.10/", "https://[fc00::1]/",
           "https://[fd12:3456::1]/", "https://0.0.0.0/", "https://100.64.0.1/",
           "https://[::ffff:127.0.0.1]/", "https://[::ffff:169.254.169.254]/",
           "https://2130706433/", "https://0177.0.0.1/", "https://0x7f000001/", "https://0x7f.1/",
           "https://ops:Pw-private-9@10.1.2.3/x"]


async def test_urls_to_literal_private_addresses_are_refused_at_create_and_update(
        client: httpx.AsyncClient, office: Backoffice) -> None:
    catalog = (await client.get("/v1/catalog")).json()
    assert catalog["policy"] == {"private_targets": "refused"}
    target = office.webhooks.create_webhook("demo", url_webhook("strict-target"))
    for url in PRIVATE:
        for response in (await client.post("/v1/webhooks", json=url_webhook("p", url=url)),
                         await client.patch(f"/v1/webhooks/{target['id']}", json={"url": url})):
            assert response.status_code == 422, (url, response.text)
            detail = response.json()["detail"]
            assert detail.startswith("url must point at a public address: "), detail
            assert "refuses private targets" in detail and "Pw-private-9" not in detail
    # Host names are not resolved when a webhook is written (a delivery checks them).
    for n, url in enumerate(["http://localhost:9/x", "https://internal.corp.example/x",
                             "https://8.8.8.8/x"]):
        made = await client.post("/v1/webhooks", json=url_webhook(f"named-{n}", url=url))
        assert made.status_code == 201, made.text
    assert office.webhooks.get_webhook("demo", target["id"])["version"] == 1


async def test_a_backoffice_that_allows_private_targets_takes_them(
        db_url: str, db_path: Path, tokens: Tokens) -> None:
    # The embedded backoffice and `serve --allow-private-targets`: local development.
    office = Backoffice.open(db_url, data_dir=db_path.parent, allow_private_targets=True,
                             delivery=DeliverySettings(resolver=loopback_resolver))
    try:
        transport = httpx.ASGITransport(app=create_app(office))
        async with httpx.AsyncClient(transport=transport, base_url="http://backoffice.test",
                                     headers={"Authorization": f"Bearer {tokens.manage}"}) as http:
            catalog = (await http.get("/v1/catalog")).json()
            assert catalog["policy"] == {"private_targets": "allowed"}
            for n, url in enumerate(PRIVATE):
                made = await http.post("/v1/webhooks", json=url_webhook(f"p-{n}", url=url))
                assert made.status_code == 201, (url, made.text)
    finally:
        office.close()

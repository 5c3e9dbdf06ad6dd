"""The webhook bodies the API sends pre-serialised are what its OpenAPI document says.

The list, get, create and update routes skip FastAPI's response validation (the parts
build the documented shape), so this holds them to it: each body validates against the
schema in /openapi.json, and is byte for byte what validating it through the route's
response model and serialising it would send.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from pydantic_core import to_json

from backoffice import Backoffice
from backoffice.http import bodies
from tests.support.backoffice import Clock, email_webhook, url_webhook
from tests.support.secrets import SIBS_SECRET


async def schema_of(client: httpx.AsyncClient, component: str) -> Draft202012Validator:
    spec = (await client.get("/openapi.json")).json()
    return Draft202012Validator({"$ref": f"#/components/schemas/{component}",
                                 "components": spec["components"]})


def as_documented(model: type[BaseModel], response: httpx.Response) -> None:
    """JSON, valid for the model, and the bytes the model would serialise it to."""
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.content == model.model_validate_json(response.content).model_dump_json(
        ).encode()


async def some_webhooks(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    made = []
    for body in (url_webhook("plain", secret=SIBS_SECRET),
                 url_webhook("with-credentials", url="https://user:pa55@hooks.shop.example/x",
                             labels={"owner": "team-a", "managed-by": "webhooks-reconciler"},
                             description="Ünïcode \"quoted\" \\ and a line\nbreak"),
                 email_webhook("by-mail", application="merchant", support_email="s@shop.example"),
                 url_webhook("standard", format="standard-webhooks", enabled=False,
                             notifications=["qr-code", "mbway", "xpay"])):
        response = await client.post("/v1/webhooks", json=body)
        assert response.status_code == 201, response.text
        as_documented(bodies.Webhook, response)
        assert response.headers["etag"] == '"1"'
        assert response.headers["location"] == f"/v1/webhooks/{response.json()['id']}"
        made.append(response.json())
    return made


@pytest.mark.anyio
async def test_list_pages_are_the_documented_json(client: httpx.AsyncClient) -> None:
    made = await some_webhooks(client)
    validator = await schema_of(client, "WebhookPage")
    first = await client.get("/v1/webhooks", params={"limit": 3})
    assert first.status_code == 200
    as_documented(bodies.WebhookPage, first)
    validator.validate(first.json())
    assert first.json()["next_cursor"]
    rest = await client.get("/v1/webhooks", params={"cursor": first.json()["next_cursor"]})
    as_documented(bodies.WebhookPage, rest)
    validator.validate(rest.json())
    assert rest.json()["next_cursor"] is None
    listed = first.json()["data"] + rest.json()["data"]
    assert listed == made
    assert [w["notifications"] for w in listed][3] == ["mbway", "qr-code", "xpay"]
    empty = await client.get("/v1/webhooks", params={"type": "email", "webhook": "nothing"})
    as_documented(bodies.WebhookPage, empty)
    assert empty.json() == {"data": [], "next_cursor": None}


@pytest.mark.anyio
async def test_get_and_patch_bodies_are_the_documented_json(client: httpx.AsyncClient) -> None:
    made = await some_webhooks(client)
    validator = await schema_of(client, "Webhook")
    page = (await client.get("/v1/webhooks")).content
    for webhook in made:
        got = await client.get(f"/v1/webhooks/{webhook['id']}")
        assert got.status_code == 200 and got.headers["etag"] == '"1"'
        as_documented(bodies.Webhook, got)
        validator.validate(got.json())
        assert got.content in page  # the same bytes as in the list
    patched = await client.patch(f"/v1/webhooks/{made[0]['id']}", json={"enabled": False},
                                 headers={"If-Match": '"1"'})
    assert patched.status_code == 200 and patched.headers["etag"] == '"2"'
    as_documented(bodies.Webhook, patched)
    validator.validate(patched.json())


# --- the list's JSON, from bodies kept by (id, version) ---------------------------------------

FILTERS: list[dict[str, Any]] = [
    {}, {"limit": 1}, {"limit": 2}, {"type": "email"}, {"type": "url", "limit": 1},
    {"notification": "xpay"}, {"webhook": "USER"}, {"webhook": "hooks.shop"},
    {"credential": "acme-client-1"},
]


def same_as_the_list(office: Backoffice, merchant_id: str = "demo") -> None:
    for filters in FILTERS:
        if "credential" in filters and merchant_id != "acme":
            continue
        page = office.webhooks.list_webhooks(merchant_id, **filters)
        expected = to_json({"data": page.data, "next_cursor": page.next_cursor})
        assert office.webhooks.list_json(merchant_id, **filters) == expected, filters
        if page.next_cursor:
            rest = office.webhooks.list_webhooks(merchant_id, **filters,
                                                 cursor=page.next_cursor)
            assert office.webhooks.list_json(merchant_id, **filters, cursor=page.next_cursor) \
                == to_json({"data": rest.data, "next_cursor": rest.next_cursor})


def test_list_json_is_the_list_serialised(office: Backoffice) -> None:
    for i, body in enumerate([url_webhook("a"), email_webhook("b", application="merchant"),
                              url_webhook("c", url="https://user:pw@hooks.shop.example/c",
                                          notifications=["xpay", "mbway"])]):
        office.webhooks.create_webhook("demo", body)
        office.webhooks.create_webhook("acme", {**body, "name": f"acme-{i}"})
    same_as_the_list(office)  # cold
    same_as_the_list(office)  # warm
    same_as_the_list(office, "acme")
    office.webhooks.pages.bodies.max_entries = 2  # past the bound it starts over, still right
    same_as_the_list(office)
    same_as_the_list(office, "acme")
    office.webhooks.pages.pages.max_entries = 1  # whole pages too
    same_as_the_list(office)
    office.webhooks.pages.pages.max_bytes = 200  # and bytes: a page over 50 is not kept
    same_as_the_list(office)
    same_as_the_list(office, "acme")


def test_a_kept_page_is_answered_only_while_its_rows_are_the_same(office: Backoffice) -> None:
    first = office.webhooks.create_webhook("demo", url_webhook("a"))
    office.webhooks.create_webhook("demo", url_webhook("b"))
    page = office.webhooks.list_json("demo")
    assert office.webhooks.list_json("demo") is page  # the kept bytes, as they are
    office.webhooks.update_webhook("demo", first["id"], {"description": "changed"})
    changed = office.webhooks.list_json("demo")
    assert changed != page and b'"description":"changed"' in changed
    office.webhooks.create_webhook("demo", url_webhook("c"))
    assert json.loads(office.webhooks.list_json("demo"))["data"][-1]["name"] == "c"


def test_list_json_sees_writes_from_another_process(office: Backoffice, db_url: str,
                                                    db_path: Path, clock: Clock) -> None:
    first = office.webhooks.create_webhook("demo", url_webhook("first"))
    second = office.webhooks.create_webhook("demo", url_webhook("second"))
    same_as_the_list(office)
    # Another server or a CLI, on the same database and server key.
    other = Backoffice.open(db_url, clock=clock, data_dir=db_path.parent)
    try:
        clock.advance(seconds=5)
        other.webhooks.update_webhook("demo", first["id"], {"description": "changed",
                                                            "notifications": ["xpay"]})
        other.webhooks.delete_webhook("demo", second["id"])
        other.webhooks.create_webhook("demo", url_webhook("third"))
    finally:
        other.close()
    data = json.loads(office.webhooks.list_json("demo"))["data"]
    assert [(w["name"], w["version"], w["description"], w["notifications"]) for w in data] == [
        ("first", 2, "changed", ["xpay"]), ("third", 1, "", ["authorised-payment", "mbway"])]
    same_as_the_list(office)

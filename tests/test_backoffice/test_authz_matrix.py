"""Every operation in /openapi.json x every kind of caller: who may do what.

The operations come from the served OpenAPI document, so a new endpoint fails here until
its row is added to OPERATIONS. Callers: no token, a malformed token, an unknown token,
an expired and a revoked manage token (401, each saying why), a read, a reveal and a
manage token, and another merchant's manage token (who must not even learn that this
merchant's webhooks, deliveries or tokens exist: 404, and nothing changes).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from backoffice import Backoffice
from backoffice.http.api import create_app
from tests.support.backoffice import Clock, Tokens, email_webhook, url_webhook

pytestmark = pytest.mark.anyio

PUBLIC, READ, REVEAL, MANAGE = "public", "read", "reveal", "manage"
RANK = {READ: 0, REVEAL: 1, MANAGE: 2}
# Refused before anything is sent: a name (so the API takes it, as it refuses literal
# private addresses) that resolves to loopback; and nothing listens on port 9.
REFUSED_URL = "http://localhost:9/authz"
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
    ("GET", "/v1/whoami"): Operation(READ, 200, 200),
    # Each merchant's own key (another merchant's token gets its own: checked below).
    ("GET", "/v1/fingerprint-key"): Operation(READ, 200, 200),
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
    ("POST", "/v1/webhooks/{webhook_id}/secret/reveal"): Operation(REVEAL, 200, 404),
    ("GET", "/v1/tokens"): Operation(MANAGE, 200, 200),
    ("POST", "/v1/tokens"): Operation(
        MANAGE, 201, 201, lambda n: {"name": f"authz-{n}", "scope": "read"}),
    ("DELETE", "/v1/tokens/{token_id}"): Operation(MANAGE, 200, 404),
    ("GET", "/v1/audit"): Operation(READ, 200, 200),
    ("POST", "/v1/webhooks/{webhook_id}/secret:rotate"): Operation(
        MANAGE, 200, 404, lambda _: {"grace_seconds": 60}),
}
CALLERS = ("none", "malformed", "unknown", "expired", "revoked", "read", "reveal", "manage",
           "other")
REFUSED_TOKEN = {"none": "a bearer token is required", "malformed": "is not valid",
                 "unknown": "is not valid", "expired": "has expired",
                 "revoked": "was revoked"}


def spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
    return {(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in methods}


def expected(op: Operation, caller: str) -> int:
    if op.needs == PUBLIC:
        return op.ok
    if caller in REFUSED_TOKEN:
        return 401
    if caller in (READ, REVEAL) and RANK[caller] < RANK[op.needs]:
        return 403
    return op.other if caller == "other" else op.ok


@dataclass(frozen=True)
class Callers:
    """The tokens of every caller but none and malformed."""

    tokens: Tokens
    reveal: str
    expired: str
    revoked: str


@pytest.fixture
def callers(office: Backoffice, tokens: Tokens, clock: Clock) -> Callers:
    expired = office.tokens.create_token("demo", "manage", name="expires", expires_in="60s")
    revoked, shown = office.tokens.issue("demo", "manage", name="revoked")
    office.tokens.revoke("demo", shown["id"])
    clock.advance(seconds=60)  # the expiring token's minute is up
    return Callers(tokens, office.tokens.create_token("demo", "reveal"), expired, revoked)


def auth(callers: Callers, caller: str) -> dict[str, str]:
    tokens = callers.tokens
    token = {"none": None, "malformed": "not-a-token",
             "unknown": "wbo_" + "A" * 43,  # well-formed, issued to nobody
             "expired": callers.expired, "revoked": callers.revoked,
             "read": tokens.read, "reveal": callers.reveal, "manage": tokens.manage,
             "other": tokens.other_manage}[caller]
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
                                   callers: Callers) -> None:
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
        token_id = None
        if "{token_id}" in path:
            token_id = office.tokens.issue("demo", "read", name=f"target-{n}")[1]["id"]
            url = url.replace("{token_id}", token_id)
        body = op.body(n)
        response = await http.request(method, url, json=body, headers=auth(callers, caller))
        want = expected(op, caller)
        if response.status_code != want:
            wrong.append(f"{method} {path}: {response.status_code}, not {want}: "
                         f"{response.text[:200]}")
            continue
        problem = response.json() if response.status_code >= 400 else {}
        if want == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.headers["content-type"] == "application/problem+json"
            if op.needs != PUBLIC:
                assert REFUSED_TOKEN[caller] in problem["detail"], (method, path)
        if want == 403:
            words = "reveal secrets" if op.needs == REVEAL else "manage webhooks"
            assert f"lacks the permission to {words}" in problem["detail"], (method, path)
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
        if (method, path) == ("GET", "/v1/fingerprint-key") and want == 200:
            merchant = "acme" if caller == "other" else "demo"
            key = office.merchants.fingerprints(merchant).reveal_key()
            assert response.json()["key"] == base64.b64encode(key).decode()
            assert response.headers["cache-control"] == "no-store"
        if caller == "other" and (method, path) == ("POST", "/v1/webhooks"):
            names = [w["name"] for w in office.webhooks.list_webhooks("demo", limit=1000).data]
            assert f"authz-new-{n}" not in names
        if caller == "other" and token_id is not None:
            assert problem["detail"] == f"no token with id {token_id!r}"
            [mine] = [t for t in office.tokens.list_tokens("demo")["data"] if t["id"] == token_id]
            assert mine["revoked_at"] is None
        if caller == "other" and path == "/v1/tokens":
            demo = {t["id"] for t in office.tokens.list_tokens("demo", limit=1000)["data"]}
            seen = response.json()["data"] if method == "GET" else [response.json()]
            assert seen and not demo & {t["id"] for t in seen}, (method, path)
        if caller == "other" and path == "/v1/audit":
            seen = response.json()["data"]  # acme's own entries only
            assert seen and not [e for e in seen if e["target_id"] == target["id"]]
        if want < 300 and "/secret/reveal" in path:
            assert response.headers["cache-control"] == "no-store"
            assert response.json()["secret"] == office.webhooks.webhook_secret(
                "demo", target["id"])
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("caller", ["none", "unknown", "expired", "revoked", "read", "reveal"])
async def test_refusal_comes_before_reading_the_body(caller: str, http: httpx.AsyncClient,
                                                     office: Backoffice,
                                                     callers: Callers) -> None:
    # A caller who may not write learns nothing from body validation: 401/403, not 422.
    # (A body that is not JSON at all still gets 422 first: FastAPI parses JSON before it
    # resolves dependencies. That tells the caller nothing about the merchant's data.)
    target = office.webhooks.create_webhook("demo", url_webhook("authz-body", url=REFUSED_URL))
    for (method, path), op in OPERATIONS.items():
        if op.needs != MANAGE:
            continue
        url = path.replace("{webhook_id}", target["id"]).replace(
            "{delivery_id}", "dl_x").replace("{token_id}", "tok_x")
        response = await http.request(method, url, content=b'{"junk": [1, 2]}',
                                      headers={**auth(callers, caller),
                                               "Content-Type": "application/json"})
        assert response.status_code == (403 if caller in (READ, REVEAL) else 401), (method, path)


# --- the web pages -------------------------------------------------------------------------
# Every page route x every kind of visitor: no session, a cookie naming no session, a read
# session, a manage session, and another merchant's manage session. A page route added
# later fails here until its row is added to PAGES.

PAGE_CALLERS = ("none", "stale", "read", "manage", "other")
PRE_SESSION_CSRF = "P" * 43  # the form token a browser holds before signing in


@dataclass(frozen=True)
class PageRoute:
    needs: str
    ok: int  # for a session of the webhook's merchant that may
    other: int  # for another merchant's manage session
    fields: Body = lambda _: {}


EDIT_FIELDS = {"version": "1", "url": REFUSED_URL, "format": "sibs", "application": "merchant",
               "notifications": ["mbway", "authorised-payment"], "enabled": "on",
               "description": "changed by the matrix"}
PAGES: dict[tuple[str, str], PageRoute] = {
    ("GET", "/"): PageRoute(PUBLIC, 303, 303),
    ("GET", "/login"): PageRoute(PUBLIC, 200, 200),
    ("POST", "/login"): PageRoute(PUBLIC, 401, 401, lambda _: {"token": "wbo_" + "Z" * 43}),
    ("GET", "/login/link"): PageRoute(PUBLIC, 401, 401),  # no code: refused for anyone
    ("POST", "/language"): PageRoute(PUBLIC, 303, 303, lambda _: {"lang": "pl"}),
    ("POST", "/logout"): PageRoute(READ, 200, 200),
    ("GET", "/webhooks"): PageRoute(READ, 200, 200),
    ("GET", "/webhooks/new"): PageRoute(MANAGE, 200, 200),
    ("POST", "/webhooks/new"): PageRoute(MANAGE, 200, 200, lambda n: {
        "step": "1", "action": "next", "type": "url", "name": f"page-{n}"}),
    ("GET", "/webhooks/{webhook_id}"): PageRoute(READ, 200, 404),
    ("GET", "/webhooks/{webhook_id}/edit"): PageRoute(MANAGE, 200, 404),
    ("POST", "/webhooks/{webhook_id}/edit"): PageRoute(MANAGE, 303, 404, lambda _: EDIT_FIELDS),
    ("GET", "/webhooks/{webhook_id}/delete"): PageRoute(MANAGE, 200, 404),
    ("POST", "/webhooks/{webhook_id}/delete"): PageRoute(MANAGE, 303, 404,
                                                         lambda _: {"version": "1"}),
    ("GET", "/webhooks/{webhook_id}/test"): PageRoute(MANAGE, 200, 404),
    ("POST", "/webhooks/{webhook_id}/test"): PageRoute(MANAGE, 200, 404),
    ("GET", "/webhooks/{webhook_id}/deliveries"): PageRoute(READ, 200, 404),
}


def page_routes(app: Any) -> set[tuple[str, str]]:
    """The app's page routes: every route left out of the API's document (routers
    included into the app are walked: FastAPI may keep them as included routers)."""
    from fastapi.routing import APIRoute

    found: set[tuple[str, str]] = set()

    def walk(routes: Any, listed: bool) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes, listed and inner.include_in_schema)
            elif isinstance(route, APIRoute) and not (listed and route.include_in_schema):
                found.update((method, route.path) for method in route.methods)

    walk(app.routes, True)
    return found


def expected_page(route: PageRoute, method: str, caller: str) -> int:
    if route.needs == PUBLIC:
        return route.ok
    if caller in ("none", "stale"):
        return 401 if method == "POST" else 303  # GET: to the sign-in page
    if caller == "read" and route.needs == MANAGE:
        return 403
    return route.other if caller == "other" else route.ok


def test_the_matrix_names_every_page(office: Backoffice) -> None:
    assert page_routes(create_app(office)) == set(PAGES), (
        "the pages and the matrix differ: give each new page its row in PAGES")


@pytest.mark.parametrize("caller", PAGE_CALLERS)
async def test_every_page_for(caller: str, http: httpx.AsyncClient, office: Backoffice,
                              tokens: Tokens) -> None:
    from tests.support.web import session_for

    token = {"read": tokens.read, "manage": tokens.manage, "other": tokens.other_manage}
    wrong = []
    for n, (method, path) in enumerate(sorted(PAGES)):
        route = PAGES[(method, path)]
        # A session of its own for each page (signing out ends one).
        signed = session_for(office, token[caller]) if caller in token else None
        cookie = f"webhooks_csrf={PRE_SESSION_CSRF}"
        if signed is not None:
            cookie += f"; {signed.headers['Cookie']}"
        elif caller == "stale":
            cookie += "; webhooks_session=" + "S" * 43
        csrf = signed.csrf if signed is not None else PRE_SESSION_CSRF
        target = office.webhooks.create_webhook(
            "demo", url_webhook(f"pages-{caller}-{n}", url=REFUSED_URL))
        url = path.replace("{webhook_id}", target["id"])
        if method == "POST":
            response = await http.post(url, data={"csrf": csrf, **route.fields(n)},
                                       headers={"Cookie": cookie})
        else:
            response = await http.get(url, headers={"Cookie": cookie})
        want = expected_page(route, method, caller)
        if response.status_code != want:
            wrong.append(f"{method} {path}: {response.status_code}, not {want}")
            continue
        if want == 303 and route.needs != PUBLIC and caller in ("none", "stale"):
            assert response.headers["location"].startswith("/login?next="), (method, path)
        if want == 403:
            assert "lacks the permission to manage webhooks" in response.text, (method, path)
        if caller == "other" and "{webhook_id}" in path:
            assert "No such webhook" in response.text
            assert office.webhooks.get_webhook("demo", target["id"])["version"] == 1
        if want >= 400 and method == "POST" and "{webhook_id}" in path:
            assert office.webhooks.get_webhook("demo", target["id"])["version"] == 1
    assert not wrong, "\n".join(wrong)

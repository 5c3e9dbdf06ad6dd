"""Test-fire, emit and the delivery log through each provider, from the real backoffice to a
real receiver (our `webhooks listen` app on loopback), for both delivery formats."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice.http.api import create_app
from contract import kinds
from reconciler import apply as applying  # not `test_changed` itself: pytest would collect it
from reconciler.apply import ApplyReport, ChangeResult
from reconciler.details import gather
from reconciler.errors import InvalidRequest, NotFound, Unavailable
from reconciler.model import RemoteWebhook, WebhookSpec
from reconciler.plan import Action, Create, Plan, Precondition, Update
from reconciler.providers import Provider
from reconciler.providers.embedded import EmbeddedProvider
from reconciler.providers.http import HttpProvider
from reconciler.render.details import render_text as render_details
from reconciler.render.testfire import render_text
from reconciler.testfire import EmailWebhookNotTestable, fire, outcome
from tests.support.backoffice import delivering_backoffice
from tests.support.providers import HttpBackoffice, providers
from tests.support.receivers import ListenReceiver
from tests.support.secrets import (
    OTHER_SIBS_SECRET,
    OTHER_WHSEC,
    SIBS_SECRET,
    WHSEC,
    assert_no_secret,
)

pytestmark = pytest.mark.anyio

MakeReceiver = Callable[..., ListenReceiver]


@pytest.fixture
def receiver() -> Iterator[MakeReceiver]:
    started: list[ListenReceiver] = []

    def make(secret: str, fmt: str) -> ListenReceiver:
        started.append(ListenReceiver(secret, fmt))
        return started[-1]

    yield make
    for r in started:
        r.close()


@pytest.fixture(params=["embedded", "http"])
async def provider(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Provider]:
    """Each provider on a fresh backoffice that may deliver to loopback (local development)."""
    async for p in providers(request.param, tmp_path, allow_private_targets=True):
        yield p


def url_hook(name: str, url: str, secret: str, fmt: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "type": "url", "url": url, "application": "merchant",
            "notifications": ["mbway", "xpay"], "secret": secret, "format": fmt, **kw}


async def create(provider: Provider, body: dict[str, Any]) -> RemoteWebhook:
    return await provider.create(body, idempotency_key=f"k-{body['name']}")


@pytest.mark.parametrize(("fmt", "secret"), [("sibs", SIBS_SECRET),
                                              ("standard-webhooks", WHSEC)])
async def test_test_fire_reaches_the_receiver_which_decrypts_and_acknowledges(
    provider: Provider, receiver: MakeReceiver, fmt: str, secret: str
) -> None:
    rx = receiver(secret, fmt)
    await create(provider, url_hook("orders", rx.url, secret, fmt))
    fired = await fire(provider, "orders")
    assert fired.delivered, fired.result
    result = fired.result
    assert result["notification_type"] == "mbway" and result["notification"]["test"] is True
    assert result["scenario"] == "mbway-purchase" and "type" not in result["notification"]
    assert result["response"]["status"] in ((200,) if fmt == "sibs" else (200, 204))
    # the receiver decrypted (or verified) the very notification the backoffice reports
    header, pretty = rx.out
    assert "  MB WAY purchase (MBWAY/PURS)  Success  10.00 EUR  token MobilePhone 351#9" in header
    assert header.endswith("(test)")
    # what it printed is what was sent, the MB WAY alias masked
    alias = result["notification"]["token"]["value"]
    assert json.loads(pretty) == kinds.masked(result["notification"])
    assert alias not in rx.printed
    assert rx.err == []
    text = render_text(fired)
    assert f'"notificationID": "{result["notification"]["notificationID"]}"' in text
    headers = ("X-Initialization-Vector", "X-Authentication-Tag") if fmt == "sibs" else (
        "webhook-id", "webhook-signature")
    assert all(h.lower() in text.lower() for h in headers)
    assert_no_secret(text, json.dumps(result), rx.printed)

    other = await fire(provider, "orders", "xpay")
    assert other.delivered and other.result["notification_type"] == "xpay"
    assert other.result["notification"]["paymentMethod"] == "XPAY"


@pytest.mark.parametrize(("fmt", "secret", "wrong"), [("sibs", SIBS_SECRET, OTHER_SIBS_SECRET),
                                                       ("standard-webhooks", WHSEC, OTHER_WHSEC)])
async def test_a_receiver_with_the_wrong_secret_means_not_delivered(
    provider: Provider, receiver: MakeReceiver, fmt: str, secret: str, wrong: str
) -> None:
    rx = receiver(wrong, fmt)
    await create(provider, url_hook("orders", rx.url, secret, fmt))
    fired = await fire(provider, "orders")
    assert not fired.delivered
    assert fired.result["response"]["status"] == 400 and fired.result["reason"]
    assert rx.out == [] and len(rx.err) == 1 and "rejected a delivery" in rx.err[0]
    assert_no_secret(render_text(fired), rx.printed)


async def test_email_webhooks_and_unknown_names_have_no_test(provider: Provider) -> None:
    await create(provider, {"name": "mail", "type": "email", "email": "ops@shop.example",
                            "application": "merchant", "notifications": ["mbway"]})
    with pytest.raises(EmailWebhookNotTestable, match="'mail' is an e-mail webhook"):
        await fire(provider, "mail")
    with pytest.raises(NotFound, match="Did you mean 'mail'"):
        await fire(provider, "maill")


async def test_the_backoffice_refuses_a_type_the_webhook_does_not_receive(
    provider: Provider, receiver: MakeReceiver
) -> None:
    rx = receiver(SIBS_SECRET, "sibs")
    await create(provider, url_hook("orders", rx.url, SIBS_SECRET, "sibs"))
    with pytest.raises(InvalidRequest, match="mbway"):
        await fire(provider, "orders", "qr-code")
    assert rx.out == []


async def test_emit_fans_out_and_the_log_shows_it(
    provider: Provider, receiver: MakeReceiver
) -> None:
    rx = receiver(WHSEC, "standard-webhooks")
    hook = await create(provider, url_hook("orders", rx.url, WHSEC, "standard-webhooks",
                                           application="terminal:10001"))
    await create(provider, url_hook("porto", "http://127.0.0.1:9/never", SIBS_SECRET, "sibs",
                                    application="store:POR-01"))
    emitted = await provider.emit({"terminal": "10001", "type": "mbway", "status": "Success",
                                   "amount": {"value": 12.5, "currency": "EUR"}})
    sent = emitted["notification"]
    assert emitted["notification_type"] == "mbway" and "type" not in sent
    assert "test" not in sent  # only a test-fire is marked
    assert [(d["webhook"], d["webhook_id"]) for d in emitted["deliveries"]] == [
        ("orders", hook.id)]
    if isinstance(provider, EmbeddedProvider):  # the embedded default attempts inline
        assert emitted["deliveries"][0]["status"] == "delivered"
    else:
        assert emitted["deliveries"][0]["status"] in ("pending", "delivered")

    log = await provider.deliveries(hook.id)
    assert log[0]["id"] == emitted["deliveries"][0]["id"]
    assert log[0]["notification_id"] == sent["notificationID"] and log[0]["test"] is False
    if isinstance(provider, EmbeddedProvider):
        assert log[0]["status"] == "delivered" and log[0]["attempts"] == 1
        assert json.loads(rx.out[1])["notificationID"] == sent["notificationID"]

    details = await gather(provider, "orders")
    assert details.deliveries is not None and details.deliveries[0].notification_type == "mbway"
    assert "Recent deliveries (newest first):" in render_details(details)


async def test_apply_test_fires_created_and_changed_url_webhooks(
    provider: Provider, receiver: MakeReceiver
) -> None:
    good = receiver(SIBS_SECRET, "sibs")
    bad = receiver(OTHER_SIBS_SECRET, "sibs")
    made = [await create(provider, url_hook(n, url, SIBS_SECRET, "sibs"))
            for n, url in (("alpha", good.url), ("beta", bad.url), ("gamma", good.url))]
    await create(provider, {"name": "mail", "type": "email", "email": "ops@shop.example",
                            "application": "merchant", "notifications": ["mbway"]})
    mail = next(w for w in await provider.fetch() if w.name == "mail")

    def spec(name: str, test_on_apply: bool) -> WebhookSpec:
        return WebhookSpec(name=name, type="url", application="merchant",
                           notifications=("mbway",), url=good.url,
                           test_on_apply=test_on_apply)

    changes = [Create(name="alpha", before=None, after=None, fields=(),
                      precondition=Precondition(), spec=spec("alpha", True)),
               Update(name="beta", before=None, after=None, fields=(),
                      precondition=Precondition(made[1].id, 1), spec=spec("beta", True)),
               Update(name="gamma", before=None, after=None, fields=(),
                      precondition=Precondition(made[2].id, 1), spec=spec("gamma", False)),
               Create(name="mail", before=None, after=None, fields=(),
                      precondition=Precondition(), spec=spec("mail", True))]

    plan = Plan(owner="payments-team", config_digest="sha256:0", changes=tuple(changes),
                unchanged=0, unmanaged=(), foreign=(), conflicts=(), reasons=(), managed=3)
    report = ApplyReport(results=[
        ChangeResult("gamma", Action.UPDATE, True, "updated", 0.0, made[2]),
        ChangeResult("beta", Action.UPDATE, True, "updated", 0.0, made[1]),
        ChangeResult("alpha", Action.CREATE, True, "created", 0.0, made[0]),
        ChangeResult("mail", Action.CREATE, True, "created", 0.0, mail),
    ])
    seen: list[str] = []
    tests = await applying.test_changed(plan, report, provider, all_url=False,
                               on_result=lambda t: seen.append(t.line))
    assert [t.name for t in tests] == ["alpha", "beta"]  # gamma: no test_on_apply; mail: e-mail
    assert tests[0].delivered and tests[0].line.startswith("test alpha: delivered (200 in ")
    assert not tests[1].delivered and tests[1].line.startswith("test beta: NOT delivered: ")
    assert seen == [t.line for t in tests]
    everything = await applying.test_changed(plan, report, provider, all_url=True)
    assert [t.name for t in everything] == ["alpha", "beta", "gamma"]
    assert json.dumps([t.data for t in everything])  # JSON-ready


async def test_http_never_repeats_a_test_fire_or_an_emit_the_backoffice_may_have_done(
    tmp_path: Path, receiver: MakeReceiver
) -> None:
    """A 503 (or a lost answer) after a test-fire or an emit may mean it happened: repeating
    it would send the notification twice. Only a refused connection or a 429 is retried."""
    rx = receiver(SIBS_SECRET, "sibs")
    office = delivering_backoffice(tmp_path / "bo.db")
    app = httpx.ASGITransport(app=create_app(office))
    failures: list[httpx.Response | Exception] = []
    seen: list[str] = []

    class Failing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(f"{request.method} {request.url.path}")
            if failures:
                failure = failures.pop(0)
                if isinstance(failure, Exception):
                    raise failure
                return failure
            return await app.handle_async_request(request)

    provider = HttpProvider("http://backoffice.test", office.tokens.create_token("demo", "manage"),
                            transport=Failing(), backoff=0.0)
    try:
        hook = await create(provider, url_hook("orders", rx.url, SIBS_SECRET, "sibs"))
        path = f"/v1/webhooks/{hook.id}/test"
        for failure in (httpx.Response(503), httpx.ReadTimeout("lost")):
            seen.clear()
            failures[:] = [failure]
            with pytest.raises(Unavailable):
                await provider.test(hook.id)
            assert seen == [f"POST {path}"]
        seen.clear()
        failures[:] = [httpx.ConnectError("refused"), httpx.Response(429)]
        assert (await provider.test(hook.id))["delivered"] is True
        assert seen == [f"POST {path}"] * 3
        seen.clear()
        failures[:] = [httpx.Response(502)]
        with pytest.raises(Unavailable):
            await provider.emit({"terminal": "10001", "type": "mbway"})
        assert seen == ["POST /v1/notifications"]
    finally:
        await provider.aclose()
        office.close()
    assert len(rx.out) == 2  # one notification (header line + JSON): the 429'd retry only


async def test_a_served_backoffice_refuses_loopback_targets_unless_told(
    http_backoffice: HttpBackoffice, receiver: MakeReceiver
) -> None:
    """Only the embedded default (and `serve --allow-private-targets`) reach this machine."""
    rx = receiver(SIBS_SECRET, "sibs")
    provider = http_backoffice.provider()
    try:
        # A literal loopback address is refused when the webhook is written (422)...
        with pytest.raises(InvalidRequest, match=r"must point at a public address: 127\.0\.0\.1 "
                                                 r"is loopback"):
            await create(provider, url_hook("orders", rx.url, SIBS_SECRET, "sibs"))
        # ...and a name is resolved, and refused, when a delivery is attempted.
        named = rx.url.replace("127.0.0.1", "localhost")
        await create(provider, url_hook("orders", named, SIBS_SECRET, "sibs"))
        fired = await fire(provider, "orders")
    finally:
        await provider.aclose()
    assert not fired.delivered and rx.out == []
    assert fired.result["response"]["error"].startswith(
        "blocked: private address (SSRF guard): localhost resolves to ")
    assert outcome(fired.result).startswith("NOT delivered: blocked: private address")

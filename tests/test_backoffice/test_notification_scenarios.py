"""Every scenario through the real backoffice and its API, delivered over loopback: to a
receiver written only from the gateway's documentation (sibs: it decrypts and
acknowledges each), and to one verifying with the ``standardwebhooks`` library; each
notification holds to the documented structure's JSON Schema. Then the scenarios that
continue another (the same reference, mandate, card) through the database, and the
API's refusals of unknown scenarios."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice import Backoffice
from backoffice.delivery.settings import DeliverySettings
from backoffice.http.api import create_app
from contract import catalogue, kinds
from contract.catalogue import SCENARIO_NAMES, SCENARIOS
from tests.support.backoffice import loopback_resolver, url_webhook
from tests.support.doc_receiver import DocReceiver
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET, WHSEC
from tests.test_contract.test_notification_payloads import problems

pytestmark = pytest.mark.anyio


@pytest.fixture
def office(db_url: str, db_path: Path) -> Iterator[Backoffice]:
    """A backoffice (SQLite, or PostgreSQL) that may deliver to loopback."""
    opened = Backoffice.open(db_url, data_dir=db_path.parent, allow_private_targets=True,
                             delivery=DeliverySettings(resolver=loopback_resolver, timeout_s=5))
    yield opened
    opened.close()


@pytest.fixture
async def api(office: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    token = office.tokens.create_token("demo", "manage")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(office)),
        base_url="http://backoffice.test", headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


@pytest.fixture
def doc_receiver() -> Iterator[DocReceiver]:
    server = DocReceiver(SIBS_SECRET)
    yield server
    server.close()


async def create(api: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    created = await api.post("/v1/webhooks", json=url_webhook(
        name, notifications=list(catalogue.CODES), **fields))
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


async def test_every_scenario_reaches_receivers_written_from_the_documentation(
        office: Backoffice, api: httpx.AsyncClient, doc_receiver: DocReceiver,
        receiver: Receiver) -> None:
    receiver.script = ["204"]
    await create(api, "doc-sibs", url=doc_receiver.url, secret=SIBS_SECRET)
    await create(api, "doc-standard", url=receiver.url(), secret=WHSEC,
                 format="standard-webhooks")
    emitted: dict[str, dict[str, Any]] = {}
    for name in SCENARIO_NAMES:
        answer = await api.post("/v1/notifications", json={"terminal": "10001",
                                                           "scenario": name})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["scenario"] == name and body["notification_type"] == SCENARIOS[name].type.code
        assert [d["webhook"] for d in body["deliveries"]] == ["doc-sibs", "doc-standard"]
        emitted[body["notification"]["notificationID"]] = body["notification"]
    while office.deliveries.deliver_due():
        pass

    # the documentation's receiver decrypted and acknowledged every one
    assert doc_receiver.refused == []
    assert {n["notificationID"]: n for n in doc_receiver.stored} == emitted
    for notification in doc_receiver.stored:
        assert problems(notification) == [], notification
        assert "type" not in notification and "test" not in notification
    # the standardwebhooks library verified every one; the envelope wraps the same data
    assert receiver.problems == []
    assert {r.nid for r in receiver.received} == set(emitted)
    for got in receiver.received:
        assert got.envelope is not None and got.notification == emitted[str(got.nid)]
        assert got.envelope["type"] == kinds.kind(got.notification)
        assert set(got.envelope) == {"type", "timestamp", "data"}
    log = await api.get("/v1/deliveries", params={"limit": 100})
    statuses = {d["status"] for d in log.json()["data"]}
    assert statuses == {"delivered"} and len(log.json()["data"]) == 2 * len(SCENARIO_NAMES)


async def test_every_scenario_test_fires_marked_as_a_test(
        api: httpx.AsyncClient, doc_receiver: DocReceiver) -> None:
    hook = await create(api, "doc-sibs", url=doc_receiver.url, secret=SIBS_SECRET)
    for name in SCENARIO_NAMES:
        fired = await api.post(f"/v1/webhooks/{hook['id']}/test", json={"scenario": name})
        assert fired.status_code == 200, fired.text
        result = fired.json()
        assert result["delivered"] is True, result["reason"]
        assert result["scenario"] == name
        assert result["notification"] == doc_receiver.stored[-1]
    for notification in doc_receiver.stored:
        assert notification["test"] is True and problems(notification) == []
    assert len(doc_receiver.stored) == len(SCENARIO_NAMES) and doc_receiver.refused == []


async def test_followers_find_what_they_continue_in_the_database(
        office: Backoffice, api: httpx.AsyncClient) -> None:
    async def emit(scenario: str, terminal: str = "10001") -> dict[str, Any]:
        answer = await api.post("/v1/notifications", json={"terminal": terminal,
                                                           "scenario": scenario})
        assert answer.status_code == 201, answer.text
        notification: dict[str, Any] = answer.json()["notification"]
        return notification

    generated = await emit("multibanco-reference-generation")
    await emit("mbway-purchase")  # other notifications in between change nothing
    elsewhere = await emit("multibanco-reference-generation", terminal="20001")
    paid = await emit("multibanco-reference-paid")
    assert paid["paymentReference"]["reference"] == generated["paymentReference"]["reference"]
    assert paid["paymentReference"]["entity"] == generated["paymentReference"]["entity"]
    assert paid["transactionID"] == generated["transactionID"]
    assert (await emit("multibanco-reference-paid", terminal="20001"))[
        "paymentReference"]["reference"] == elsewhere["paymentReference"]["reference"]

    created = await emit("mbway-authorised-creation")
    mandate = created["mbwayMandate"]["mandateIdentification"]
    for name in ("mbway-authorised-purchase", "mbway-authorised-cancel",
                 "mbway-authorised-cancel-declined"):
        assert (await emit(name))["mbwayMandate"]["mandateIdentification"] == mandate
    stored = await emit("token-generation")
    assert (await emit("mit-recurring"))["token"] == stored["token"]

    # a test-fire never continues a real notification (nor the other way round)
    hook = await create(api, "nowhere", url="http://127.0.0.1:9/never", secret=SIBS_SECRET)
    fired = (await api.post(f"/v1/webhooks/{hook['id']}/test",
                            json={"scenario": "multibanco-reference-paid"})).json()
    assert fired["notification"]["paymentReference"]["reference"] not in (
        generated["paymentReference"]["reference"], elsewhere["paymentReference"]["reference"])


@pytest.mark.parametrize(("body", "detail"), [
    ({"terminal": "10001", "scenario": "mbway-purchse"}, "did you mean 'mbway-purchase'?"),
    ({"terminal": "10001", "scenario": "nothing-like-it"}, "the scenarios: mbway-purchase"),
    ({"terminal": "10001", "type": "xpay", "scenario": "cit-ucof"},
     "belongs to notification type 'key-enter-token', not 'xpay'"),
    ({"terminal": "10001", "scenario": "x" * 65}, "at most 64 characters"),
    ({"terminal": "10001", "scenario": ["mbway-purchase"]}, "scenario"),
    ({"terminal": "10001"}, "type or scenario is required"),
])
async def test_emit_refuses_unknown_scenarios(api: httpx.AsyncClient, body: dict[str, Any],
                                              detail: str) -> None:
    answer = await api.post("/v1/notifications", json=body)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith(
        "application/problem+json")
    assert detail in answer.text


async def test_test_refuses_unknown_scenarios_and_types_not_subscribed(
        api: httpx.AsyncClient) -> None:
    created = await api.post("/v1/webhooks", json=url_webhook(
        "only-mbway", notifications=["mbway"], url="http://127.0.0.1:9/never",
        secret=SIBS_SECRET))
    hook = created.json()
    cases = [({"scenario": "mbway-purchse"}, "did you mean 'mbway-purchase'?"),
             ({"scenario": "xpay-purchase"}, "'xpay' is not one this webhook subscribes to"),
             ({"scenario": "xpay-purchase", "notification": "mbway"},
              "belongs to notification type 'xpay', not 'mbway'"),
             ({"scenario": "mbway-purchase\u202e\x00"}, "is not a scenario")]
    for body, detail in cases:
        answer = await api.post(f"/v1/webhooks/{hook['id']}/test", json=body)
        assert answer.status_code == 422, answer.text
        assert detail in answer.json()["detail"]
        assert "\x00" not in answer.json()["detail"]
    log = await api.get("/v1/deliveries")
    assert log.json()["data"] == []  # nothing was sent

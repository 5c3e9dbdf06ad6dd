"""The delivery endpoints over HTTP: in-process (ASGI) with the worker thread, and
`webhooks serve` for real with its delivery options."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice import Backoffice
from backoffice.delivery.settings import DeliverySettings
from backoffice.delivery.worker import DeliveryWorker
from backoffice.http.api import create_app
from reconciler.cli import main
from tests.support.backoffice import Tokens, email_webhook, loopback_resolver, url_webhook
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET, WHSEC
from tests.support.serve import Server, create_token


@pytest.fixture
def dev_office(tmp_path: Path) -> Iterator[Backoffice]:
    """A backoffice that may deliver to loopback (what the embedded default does)."""
    office = Backoffice.open(f"sqlite:///{tmp_path / 'dev.db'}", allow_private_targets=True,
                             delivery=DeliverySettings(resolver=loopback_resolver, timeout_s=2))
    yield office
    office.close()


@pytest.fixture
async def dev_client(dev_office: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    token = dev_office.tokens.create_token("demo", "manage")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(dev_office)),
        base_url="http://backoffice.test", headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


@pytest.mark.anyio
async def test_emit_then_the_worker_delivers(dev_office: Backoffice, dev_client: httpx.AsyncClient,
                                             receiver: Receiver) -> None:
    created = await dev_client.post("/v1/webhooks", json=url_webhook(
        url=receiver.url(), secret=SIBS_SECRET))
    hook = created.json()
    # an emit wakes it long before that
    worker = DeliveryWorker(dev_office.deliveries, interval_s=5)
    worker.start()
    try:
        emitted = await dev_client.post("/v1/notifications", json={
            "terminal": "10001", "type": "mbway", "status": "Pending",
            "amount": {"value": 3, "currency": "EUR"}})
        assert emitted.status_code == 201, emitted.text
        body = emitted.json()
        assert body["notification"]["paymentStatus"] == "Pending"
        assert body["deliveries"] == [{"id": body["deliveries"][0]["id"], "webhook": hook["name"],
                                       "webhook_id": hook["id"], "status": "pending"}]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not receiver.received:
            time.sleep(0.01)
    finally:
        assert worker.stop(timeout=5)
    assert receiver.received[0].notification == body["notification"]
    listed = await dev_client.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 5})
    assert listed.status_code == 200
    (delivery,) = listed.json()["data"]
    assert delivery["status"] == "delivered" and delivery["id"] == body["deliveries"][0]["id"]


@pytest.mark.anyio
async def test_test_endpoint(dev_client: httpx.AsyncClient, receiver: Receiver) -> None:
    hook = (await dev_client.post("/v1/webhooks", json=url_webhook(
        url=receiver.url(), secret=WHSEC, format="standard-webhooks"))).json()
    receiver.script = ["204"]
    fired = await dev_client.post(f"/v1/webhooks/{hook['id']}/test",
                                  json={"notification": "authorised-payment"})
    assert fired.status_code == 200, fired.text
    result = fired.json()
    assert result["delivered"] is True and result["notification"]["test"] is True
    assert result["notification_type"] == "authorised-payment"
    assert result["scenario"] == "mbway-authorised-purchase"
    # the API passes the method's blocks through (the response model allows them)
    assert result["notification"]["mbwayMandate"]["aliasMBWAY"].startswith("351#")
    assert receiver.received[0].notification == result["notification"]
    assert set(result["request"]["headers"]) == {"Content-Type", "webhook-id",
                                                 "webhook-timestamp", "webhook-signature"}
    assert result["response"]["status"] == 204
    assert receiver.received[0].problem is None  # verified by the standardwebhooks library
    no_body = await dev_client.post(f"/v1/webhooks/{hook['id']}/test")
    assert no_body.status_code == 200
    assert no_body.json()["notification_type"] == "authorised-payment"
    assert WHSEC not in fired.text and WHSEC.removeprefix("whsec_") not in fired.text


@pytest.mark.anyio
async def test_endpoint_errors(client: httpx.AsyncClient, tokens: Tokens) -> None:
    mail = (await client.post("/v1/webhooks", json=email_webhook())).json()
    refused = await client.post(f"/v1/webhooks/{mail['id']}/test")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == ("an e-mail webhook can't be tested; only URL webhooks "
                                        "have a test")
    assert (await client.post("/v1/webhooks/wh_nope/test")).status_code == 404
    assert (await client.get("/v1/webhooks/wh_nope/deliveries")).status_code == 404
    read = {"Authorization": f"Bearer {tokens.read}"}
    assert (await client.post(f"/v1/webhooks/{mail['id']}/test", headers=read)).status_code == 403
    assert (await client.post("/v1/notifications", headers=read,
                              json={"terminal": "10001", "type": "mbway"})).status_code == 403
    assert (await client.get(f"/v1/webhooks/{mail['id']}/deliveries",
                             headers=read)).status_code == 200
    bad = await client.post("/v1/notifications", json={"terminal": "10001", "type": "card"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.type"
    unknown = await client.post("/v1/notifications", json={"terminal": "99999", "type": "mbway"})
    assert unknown.status_code == 422 and "terminal '99999'" in unknown.json()["detail"]
    other = (await client.post("/v1/webhooks", json=url_webhook())).json()
    acme = {"Authorization": f"Bearer {tokens.other_manage}"}
    assert (await client.post(f"/v1/webhooks/{other['id']}/test",
                              headers=acme)).status_code == 404
    assert (await client.get(f"/v1/webhooks/{other['id']}/deliveries",
                             params={"limit": 0})).status_code == 422
    assert (await client.get(f"/v1/webhooks/{other['id']}/deliveries",
                             params={"lmit": 3})).status_code == 422
    # the fixture's backoffice refuses private targets and resolves no real name
    fired = (await client.post(f"/v1/webhooks/{other['id']}/test")).json()
    assert fired["delivered"] is False
    assert fired["response"]["error"] == ("cannot resolve api.shop.example: "
                                          "tests resolve loopback only")


@pytest.mark.slow
def test_serve_runs_the_worker_with_its_options(tmp_path: Path, receiver: Receiver,
                                                capsys: pytest.CaptureFixture[str],
                                                processes: Processes) -> None:
    db_url = f"sqlite:///{tmp_path / 'srv' / 'bo.db'}"
    token = create_token(tmp_path, db_url)
    receiver.script = ["500", "ack"]
    server = Server(processes, db_url, tmp_path, args=["--allow-private-targets",
                                                       "--retry-schedule", "0.2",
                                                       "--worker-interval", "0.05"])
    deliveries: list[dict[str, Any]] = []
    with httpx.Client(base_url=server.base,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        hook = http.post("/v1/webhooks", json=url_webhook(url=receiver.url(),
                                                          secret=SIBS_SECRET)).json()
        mail = http.post("/v1/webhooks", json=email_webhook()).json()
        assert http.post("/v1/notifications",
                         json={"terminal": "10001", "type": "mbway"}).status_code == 201
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            deliveries = http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["data"]
            if deliveries and deliveries[0]["status"] == "delivered":
                break
            time.sleep(0.05)
        mailed = http.get(f"/v1/webhooks/{mail['id']}/deliveries").json()["data"]
    assert server.stop(signal.SIGTERM) == 0
    assert deliveries[0]["status"] == "delivered" and deliveries[0]["attempts"] == 2
    assert mailed[0]["status"] == "delivered"
    assert len(list((tmp_path / "srv" / "outbox").glob("*.eml"))) == 1
    log = server.log_text()
    assert "private and loopback targets ALLOWED" in log and "stopped on SIGTERM" in log
    assert SIBS_SECRET not in log and token not in log
    assert main(["serve", "--db", db_url, "--retry-schedule", "5,soon"]) == 1
    assert "--retry-schedule: the retry schedule has 'soon'" in capsys.readouterr().err
    assert main(["serve", "--db", db_url, "--smtp-url", "mail.example:25"]) == 1
    assert "--smtp-url: the SMTP URL 'mail.example:25' is not valid" in capsys.readouterr().err

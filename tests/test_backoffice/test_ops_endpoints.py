"""/healthz (liveness), /readyz (the database and the delivery worker) and /metrics
(Prometheus text, aggregates only), all without a token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from backoffice import Backoffice
from backoffice.delivery import worker as worker_module
from backoffice.delivery.settings import DeliverySettings
from backoffice.delivery.worker import DeliveryWorker
from backoffice.http.api import create_app
from tests.support.backoffice import Clock, loopback_resolver, url_webhook
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET

pytestmark = pytest.mark.anyio
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def delivering(tmp_path: Path, clock: Clock) -> Iterator[Backoffice]:
    office = Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}", clock=clock,
                             delivery=DeliverySettings(resolver=loopback_resolver,
                                                       timeout_s=2.0),
                             allow_private_targets=True)
    office.merchants.create_merchant("acme", "Acme Corp")
    yield office
    office.close()


def client_for(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                             base_url="http://backoffice.test")


@pytest.fixture
async def anonymous(office: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(office)) as http:
        yield http


def samples(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


# --- /healthz and /readyz ---------------------------------------------------------------------

async def test_ready_without_a_worker_when_the_database_answers(
        anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready",
                               "checks": {"database": "ok", "worker": "not run in this process"}}


async def test_an_unreachable_database_is_not_ready_but_alive(
        office: Backoffice, anonymous: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("unable to open database file"))

    monkeypatch.setattr(office.db, "ping", down)
    response = await anonymous.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == "not ready: the database is unreachable"
    assert body["errors"] == [{"field": "database", "message": "the database is unreachable"}]
    assert "unable to open" not in response.text  # the reason is logged, not served
    assert (await anonymous.get("/healthz")).status_code == 200  # liveness holds


async def test_the_worker_must_run_for_the_server_to_be_ready(
        office: Backoffice, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = DeliveryWorker(office.deliveries, interval_s=0.05)
    async with client_for(create_app(office, worker=worker)) as http:
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["errors"] == [
            {"field": "worker", "message": "the delivery worker is not started"}]
        worker.start()
        try:
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()["checks"]["worker"]) == (200, "ok")
        finally:
            assert worker.stop(timeout=10)
        # A dispatcher thread that ended (a bug, say) makes the server not ready.
        monkeypatch.setattr(worker_module.Dispatcher, "run", lambda *_: None)
        worker.start()
        try:
            assert worker.dispatcher is not None
            for thread in worker._threads:
                if thread.name == "delivery-dispatcher":
                    thread.join(5)
            response = await http.get("/readyz")
            assert response.status_code == 503
            assert response.json()["detail"] == (
                "not ready: the delivery worker's delivery-dispatcher thread is not running")
        finally:
            worker.stop(timeout=10)


# --- /metrics ---------------------------------------------------------------------------------

async def test_metrics_move_with_traffic_and_deliveries(
        delivering: Backoffice, clock: Clock) -> None:
    ok, failing = Receiver(), Receiver(script=["500"])
    manage = delivering.tokens.create_token("demo", "manage")
    auth = {"Authorization": f"Bearer {manage}"}
    try:
        async with client_for(create_app(delivering)) as http:
            first = samples((await http.get("/metrics")).text)
            assert value(first, "webhooks_deliveries_due") == 0
            assert value(first, "webhooks_webhooks") == 0
            ids = []
            for name, target in (("good", ok), ("bad", failing)):
                created = await http.post("/v1/webhooks", headers=auth, json=url_webhook(
                    name, url=target.url(), secret=SIBS_SECRET, notifications=["mbway"]))
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            for webhook_id in ids:
                assert (await http.get(f"/v1/webhooks/{webhook_id}", headers=auth)
                        ).status_code == 200
            assert (await http.get("/v1/webhooks/wh_nothing", headers=auth)).status_code == 404
            assert (await http.get("/no/such/path")).status_code == 404
            for _ in range(2):
                emitted = await http.post("/v1/notifications", headers=auth,
                                          json={"terminal": "10001", "type": "mbway"})
                assert emitted.status_code == 201, emitted.text
            clock.advance(seconds=30)
            queued = samples((await http.get("/metrics")).text)
            assert value(queued, "webhooks_deliveries_due") == 4
            assert value(queued, "webhooks_deliveries_oldest_due_age_seconds") == 30
            assert value(queued, "webhooks_webhooks") == 2

            assert delivering.deliveries.deliver_due() == 4
            tested = await http.post(f"/v1/webhooks/{ids[0]}/test", headers=auth, json={})
            assert tested.status_code == 200
            response = await http.get("/metrics")
    finally:
        ok.close()
        failing.close()
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    after = samples(text)
    assert value(after, "webhooks_deliveries_due") == 0  # the failed ones retry in 5 min
    assert value(after, "webhooks_deliveries_oldest_due_age_seconds") == 0
    attempts = "webhooks_delivery_attempts_total"
    assert value(after, attempts, outcome="delivered", test="false") == 2
    assert value(after, attempts, outcome="failed", test="false") == 2
    assert value(after, attempts, outcome="delivered", test="true") == 1
    assert value(after, attempts, outcome="gave_up", test="false") == 0
    assert value(after, "webhooks_delivery_failures_total", answer="5xx") == 2
    assert value(after, "webhooks_delivery_failures_total", answer="none") == 0
    # Latency by route template and method: the ids never appear, nor raw paths.
    histogram = "webhooks_http_request_duration_seconds_count"
    assert value(after, histogram, method="GET", route="/v1/webhooks/{webhook_id}",
                 status="200") == 2
    assert value(after, histogram, method="GET", route="/v1/webhooks/{webhook_id}",
                 status="404") == 1
    assert value(after, histogram, method="POST", route="/v1/webhooks", status="201") == 2
    assert value(after, histogram, method="GET", route="unmatched", status="404") == 1
    assert value(after, histogram, method="GET", route="/metrics", status="200") == 2
    for secret_or_name in (*ids, "wh_nothing", "/no/such/path", "demo", "acme", "Acme",
                           manage, "good", "bad"):
        assert secret_or_name not in text, secret_or_name


async def test_each_app_counts_its_own_requests(office: Backoffice) -> None:
    one, two = create_app(office), create_app(office)
    async with client_for(one) as first, client_for(two) as second:
        for _ in range(3):
            await first.get("/healthz")
        counted = samples((await second.get("/metrics")).text)
        assert value(counted, "webhooks_http_request_duration_seconds_count",
                     method="GET", route="/healthz", status="200") == 0
        counted = samples((await first.get("/metrics")).text)
        assert value(counted, "webhooks_http_request_duration_seconds_count",
                     method="GET", route="/healthz", status="200") == 3

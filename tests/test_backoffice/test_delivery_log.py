"""The delivery log across webhooks (GET /v1/deliveries), one delivery with its attempts,
resend and recover: the real app in-process, real receivers on loopback, a hand clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice import Backoffice
from backoffice.db import tables as t
from backoffice.delivery.settings import DeliverySettings
from backoffice.http.api import create_app
from contract.times import iso_millis
from tests.support.backoffice import Clock, loopback_resolver, url_webhook
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET

pytestmark = pytest.mark.anyio
MBWAY = {"terminal": "10001", "type": "mbway"}


@pytest.fixture
def hand_clock() -> Clock:
    return Clock()


@pytest.fixture
def dev(tmp_path: Path, hand_clock: Clock) -> Iterator[Backoffice]:
    """A backoffice that delivers to loopback, retries a minute apart (twice)."""
    office = Backoffice.open(
        f"sqlite:///{tmp_path / 'log.db'}", clock=hand_clock, allow_private_targets=True,
        delivery=DeliverySettings(resolver=loopback_resolver, timeout_s=2,
                                  retry_schedule=(60, 60)))
    office.merchants.create_merchant("acme", "Acme Corp")
    yield office
    office.close()


def bearer(office: Backoffice, merchant: str, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {office.tokens.create_token(merchant, scope)}"}


@pytest.fixture
async def api(dev: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(dev)),
                                 base_url="http://backoffice.test",
                                 headers=bearer(dev, "demo", "manage")) as http:
        yield http


@pytest.fixture
def good() -> Iterator[Receiver]:
    server = Receiver(script=["ack"])
    yield server
    server.close()


@pytest.fixture
def bad() -> Iterator[Receiver]:
    server = Receiver(script=["500"])
    yield server
    server.close()


def hooks(office: Backoffice, good: Receiver, bad: Receiver) -> tuple[str, str]:
    ok = office.webhooks.create_webhook("demo", url_webhook(
        "good-hook", url=good.url(), secret=SIBS_SECRET, notifications=["mbway"]))
    ko = office.webhooks.create_webhook("demo", url_webhook(
        "bad-hook", url=bad.url(), secret=SIBS_SECRET, notifications=["mbway"]))
    return ok["id"], ko["id"]


def ids(page: dict[str, Any]) -> list[str]:
    return [d["id"] for d in page["data"]]


async def test_the_log_spans_webhooks_newest_first_with_every_attempt(
        dev: Backoffice, api: httpx.AsyncClient, good: Receiver, bad: Receiver,
        hand_clock: Clock) -> None:
    ok, ko = hooks(dev, good, bad)
    emitted = dev.deliveries.emit_notification("demo", MBWAY)
    assert dev.deliveries.deliver_due() == 2
    hand_clock.advance(seconds=61)
    assert dev.deliveries.deliver_due() == 1  # the failed one's retry

    page = (await api.get("/v1/deliveries")).json()
    assert page["next_cursor"] is None
    by_hook = {d["webhook_id"]: d for d in page["data"]}
    assert set(by_hook) == {ok, ko}
    assert [d["webhook_id"] for d in page["data"]] == [ko, ok]  # newest first
    delivered, failing = by_hook[ok], by_hook[ko]
    assert delivered["status"] == "delivered" and len(delivered["history"]) == 1
    assert delivered["history"][0]["status_code"] == 200
    assert failing["status"] == "failed" and failing["attempts"] == 2
    assert [a["number"] for a in failing["history"]] == [1, 2]
    first = failing["history"][0]
    assert first["outcome"] == "failed" and first["status_code"] == 500
    assert "500" in first["error"] and first["response_excerpt"] == '{"error": "boom"}'
    assert first["started_at"] < failing["history"][1]["started_at"]
    assert all(d["notification_id"] == emitted["notification"]["notificationID"]
               for d in page["data"])

    # The filters combine; the old per-webhook log still answers.
    only = (await api.get("/v1/deliveries", params={"webhook": ko})).json()
    assert ids(only) == [failing["id"]]
    assert ids((await api.get("/v1/deliveries", params={"status": "delivered"})).json()) == [
        delivered["id"]]
    assert ids((await api.get("/v1/deliveries", params={"status": "gave_up"})).json()) == []
    nid = emitted["notification"]["notificationID"]
    assert len((await api.get("/v1/deliveries", params={"notification": nid})).json()[
        "data"]) == 2
    assert (await api.get("/v1/deliveries", params={"notification": "nope"})).json()[
        "data"] == []
    old = await api.get(f"/v1/webhooks/{ko}/deliveries")
    assert old.status_code == 200 and old.json()["data"][0]["attempts"] == 2

    one = await api.get(f"/v1/deliveries/{failing['id']}")
    assert one.status_code == 200 and one.json() == failing


async def test_since_takes_a_duration_ago_or_a_moment(
        dev: Backoffice, api: httpx.AsyncClient, good: Receiver, bad: Receiver,
        hand_clock: Clock) -> None:
    hooks(dev, good, bad)
    dev.deliveries.emit_notification("demo", MBWAY)
    hand_clock.advance(hours=3)
    dev.deliveries.emit_notification("demo", MBWAY)
    recent = (await api.get("/v1/deliveries", params={"since": "2h"})).json()["data"]
    assert len(recent) == 2
    moment = iso_millis(hand_clock.now - timedelta(hours=4))
    assert len((await api.get("/v1/deliveries", params={"since": moment})).json()[
        "data"]) == 4
    wrong = await api.get("/v1/deliveries", params={"since": "yesterday-ish"})
    assert wrong.status_code == 422 and "neither a moment" in wrong.json()["detail"]


async def test_pages_follow_the_cursor_without_gaps_or_repeats(
        dev: Backoffice, api: httpx.AsyncClient, good: Receiver, bad: Receiver) -> None:
    hooks(dev, good, bad)
    for _ in range(4):
        dev.deliveries.emit_notification("demo", MBWAY)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/deliveries", params=params)).json()
        seen += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 8 and len(set(seen)) == 8
    whole = ids((await api.get("/v1/deliveries", params={"limit": 100})).json())
    assert seen == whole
    assert (await api.get("/v1/deliveries", params={"cursor": "bogus"})).status_code == 422
    twice = await api.get("/v1/deliveries?status=failed&status=delivered")
    assert twice.status_code == 422


async def test_resend_makes_one_more_attempt_and_keeps_the_history(
        dev: Backoffice, api: httpx.AsyncClient, good: Receiver, bad: Receiver) -> None:
    ok, _ = hooks(dev, good, bad)
    dev.deliveries.emit_notification("demo", MBWAY)
    dev.deliveries.deliver_due()
    delivered = (await api.get("/v1/deliveries", params={"webhook": ok})).json()["data"][0]
    assert delivered["status"] == "delivered"

    resent = await api.post(f"/v1/deliveries/{delivered['id']}/resend")
    assert resent.status_code == 202, resent.text
    assert resent.json()["status"] == "pending" and len(resent.json()["history"]) == 1
    assert resent.json()["next_attempt_at"] is not None
    assert dev.deliveries.deliver_due() == 1  # due now, not after the retry delay
    after = (await api.get(f"/v1/deliveries/{delivered['id']}")).json()
    assert after["status"] == "delivered" and after["attempts"] == 2
    assert [a["number"] for a in after["history"]] == [1, 2]
    assert len(good.received) == 2


async def test_resend_of_a_delivery_being_attempted_is_refused(
        dev: Backoffice, api: httpx.AsyncClient, good: Receiver, bad: Receiver,
        hand_clock: Clock) -> None:
    hooks(dev, good, bad)
    dev.deliveries.emit_notification("demo", MBWAY)
    leased = iso_millis(hand_clock.now + timedelta(seconds=30))
    with dev.db.write() as conn:  # a worker holds every delivery right now
        conn.execute(t.deliveries.update().values(lease_until=leased, claim="someone"))
    target = (await api.get("/v1/deliveries")).json()["data"][0]
    refused = await api.post(f"/v1/deliveries/{target['id']}/resend")
    assert refused.status_code == 409
    assert "being attempted right now" in refused.json()["detail"]
    hand_clock.advance(seconds=31)  # the lease ran out: the worker is gone
    assert (await api.post(f"/v1/deliveries/{target['id']}/resend")).status_code == 202


async def test_recover_resends_failures_since_then_but_not_tests(
        dev: Backoffice, api: httpx.AsyncClient, good: Receiver, bad: Receiver,
        hand_clock: Clock) -> None:
    ok, ko = hooks(dev, good, bad)
    dev.deliveries.emit_notification("demo", MBWAY)  # 3 h ago by the end
    dev.deliveries.deliver_due()
    hand_clock.advance(hours=3)
    for _ in range(2):
        dev.deliveries.emit_notification("demo", MBWAY)
    dev.deliveries.deliver_due()
    dev.deliveries.test_webhook("demo", ko)  # a failed test: never recovered
    given_up = (await api.get("/v1/deliveries", params={"webhook": ko})).json()["data"][-1]
    with dev.db.write() as conn:  # the old one gave up
        conn.execute(t.deliveries.update().where(t.deliveries.c.id == given_up["id"])
                     .values(status="gave_up", next_attempt_at=None))

    recent = await api.post(f"/v1/webhooks/{ko}/recover", json={"since": "1h"})
    assert recent.status_code == 202, recent.text
    assert recent.json()["recovered"] == 2
    assert recent.json()["since"] == iso_millis(hand_clock.now - timedelta(hours=1))
    everything = await api.post(f"/v1/webhooks/{ko}/recover", json={"since": "1d"})
    assert everything.json()["recovered"] == 1  # the two are pending now; the old one
    statuses = [(d["test"], d["status"]) for d in
                (await api.get("/v1/deliveries", params={"webhook": ko})).json()["data"]]
    assert sorted(statuses) == [(False, "pending")] * 3 + [(True, "gave_up")]
    assert (await api.post(f"/v1/webhooks/{ok}/recover", json={"since": "1d"})).json()[
        "recovered"] == 0
    bad_since = await api.post(f"/v1/webhooks/{ko}/recover", json={"since": "soon"})
    assert bad_since.status_code == 422


async def test_read_tokens_look_and_other_merchants_see_nothing(
        dev: Backoffice, api: httpx.AsyncClient, good: Receiver, bad: Receiver) -> None:
    _, ko = hooks(dev, good, bad)
    dev.deliveries.emit_notification("demo", MBWAY)
    target = (await api.get("/v1/deliveries")).json()["data"][0]["id"]
    reader = bearer(dev, "demo", "read")
    assert (await api.get("/v1/deliveries", headers=reader)).status_code == 200
    for path, body in ((f"/v1/deliveries/{target}/resend", None),
                       (f"/v1/webhooks/{ko}/recover", {"since": "1h"})):
        refused = await api.post(path, json=body, headers=reader)
        assert refused.status_code == 403 and "manage webhooks" in refused.json()["detail"]
    stranger = bearer(dev, "acme", "manage")
    assert (await api.get("/v1/deliveries", headers=stranger)).json()["data"] == []
    for method, path in (("GET", f"/v1/deliveries/{target}"),
                         ("POST", f"/v1/deliveries/{target}/resend")):
        hidden = await api.request(method, path, headers=stranger)
        assert hidden.status_code == 404
        assert hidden.json()["detail"] == f"no delivery with id {target!r}"
    hidden = await api.get("/v1/deliveries", params={"webhook": ko}, headers=stranger)
    assert hidden.status_code == 404

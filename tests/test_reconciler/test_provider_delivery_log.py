"""The delivery log's provider contract, on the embedded backoffice and over HTTP alike:
find_deliveries, get_delivery, resend, recover, run_due, and following the log.

The HTTP provider's backoffice runs no worker here (run_due answers 0 and nothing is
attempted in the background), so a test's expectations follow what run_due says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.delivery_log import follow, wait_for_outcomes
from reconciler.errors import NotFound
from reconciler.providers import Provider
from reconciler.providers.base import DeliveryQuery
from reconciler.providers.embedded import EmbeddedProvider
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET

pytestmark = pytest.mark.anyio
# Nothing listens; a server refuses it before sending (a name, so the API takes it: it
# refuses URLs to literal private addresses, and resolves names only when delivering).
REFUSED = "http://localhost:9/hooks"


async def hook(provider: Provider, name: str = "orders", url: str = REFUSED) -> str:
    created = await provider.create(
        {"name": name, "type": "url", "url": url, "application": "merchant",
         "notifications": ["mbway"], "secret": SIBS_SECRET}, idempotency_key=name)
    return created.id


async def test_the_log_holds_each_delivery_with_its_attempts(provider: Provider) -> None:
    webhook = await hook(provider)
    fired = await provider.test(webhook)  # a test delivery that failed: it gave up
    [found] = await provider.find_deliveries(DeliveryQuery())
    assert found["id"] == fired["delivery_id"] and found["status"] == "gave_up"
    [attempt] = found["history"]
    assert attempt["number"] == 1 and attempt["outcome"] == "failed" and attempt["error"]
    assert await provider.get_delivery(found["id"]) == found

    assert await provider.find_deliveries(DeliveryQuery(webhook=webhook, since="1h")) == [found]
    assert await provider.find_deliveries(DeliveryQuery(status="delivered")) == []
    assert await provider.find_deliveries(
        DeliveryQuery(notification=fired["notification"]["notificationID"])) == [found]
    with pytest.raises(NotFound, match="no delivery"):
        await provider.get_delivery("dl_nope")
    with pytest.raises(NotFound):
        await provider.find_deliveries(DeliveryQuery(webhook="wh_nope"))


async def test_find_deliveries_reads_every_page_up_to_the_limit(provider: Provider) -> None:
    webhook = await hook(provider)
    for _ in range(3):
        await provider.test(webhook)
    assert len(await provider.find_deliveries(DeliveryQuery(), limit=2)) == 2
    every = await provider.find_deliveries(DeliveryQuery(), limit=1000)
    assert len(every) == 3 and len({d["id"] for d in every}) == 3


async def test_resend_and_recover_put_deliveries_back_in_the_queue(provider: Provider) -> None:
    webhook = await hook(provider)
    fired = await provider.test(webhook)
    resent = await provider.resend(fired["delivery_id"])
    assert resent["status"] == "pending" and len(resent["history"]) == 1

    attempted = await provider.run_due(seconds=5)
    after = await provider.get_delivery(fired["delivery_id"])
    if attempted:  # the embedded backoffice delivers itself
        assert isinstance(provider, EmbeddedProvider)
        assert after["status"] == "gave_up" and len(after["history"]) == 2
    else:  # a server's worker would
        assert after["status"] == "pending" and len(after["history"]) == 1

    emitted = await provider.emit({"terminal": "10001", "type": "mbway"})
    [delivery] = emitted["deliveries"]
    failed = [d for d in await provider.find_deliveries(DeliveryQuery(webhook=webhook))
              if not d["test"] and d["status"] in ("failed", "gave_up")]
    recovered = await provider.recover(webhook, "1h")
    assert recovered["webhook_id"] == webhook and recovered["recovered"] == len(failed)
    assert (await provider.get_delivery(delivery["id"]))["status"] == "pending"
    with pytest.raises(NotFound):
        await provider.recover("wh_nope", "1h")
    with pytest.raises(NotFound):
        await provider.resend("dl_nope")


async def test_follow_reports_new_deliveries_and_new_outcomes(provider: Provider) -> None:
    webhook = await hook(provider)
    shown: list[tuple[str, str, int]] = []
    moves = [lambda: provider.test(webhook), lambda: provider.resend(fired[0])]
    fired: list[str] = []

    async def step(_: float) -> None:  # between polls, something happens
        result: dict[str, Any] = await moves.pop(0)()
        if "delivery_id" in result:
            fired.append(result["delivery_id"])

    def show(changed: list[dict[str, Any]], before: list[dict[str, Any]]) -> None:
        shown.extend((d["id"], d["status"], len(old)) for d, old in zip(changed, before,
                                                                        strict=True))

    await follow(provider, DeliveryQuery(), limit=100, interval=0.01, show=show, seen={},
                 max_polls=2, sleep=step)
    assert shown[0] == (fired[0], "gave_up", 0)  # new: nothing known before
    assert shown[1][0] == fired[0] and shown[1][2] > 0  # changed: it was known
    assert shown[1][1] in ("pending", "gave_up")  # resent; attempted again if embedded


async def test_wait_for_outcomes_returns_once_every_delivery_has_one(
        tmp_path: Path) -> None:
    receiver = Receiver(script=["ack"])
    provider = EmbeddedProvider.open(tmp_path / ".webhooks")
    try:
        await hook(provider, url=receiver.url())
        # Emitted behind the provider's back: pending, not attempted yet.
        nid = provider.office.deliveries.emit_notification(
            provider.merchant_id, {"terminal": "10001", "type": "mbway"})[
            "notification"]["notificationID"]
        found = await wait_for_outcomes(provider, nid, 1, seconds=30)
    finally:
        await provider.aclose()
        receiver.close()
    assert [d["status"] for d in found] == ["delivered"]
    assert len(receiver.received) == 1

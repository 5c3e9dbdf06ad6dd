"""kill -9 of `webhooks serve` in the middle of deliveries: at least once, nothing lost.

60 notifications go to one sibs webhook whose receiver (loopback, in this process)
acknowledges the first 20 and then holds the next deliveries unanswered, so the worker
has attempts in flight when the server is killed. A new server on the same database
must deliver every notification, must not send again what it had recorded as delivered,
and sends again only what was in flight at the kill. The deliveries the dead server had
claimed wait for their lease (``DeliverySettings.lease_s``: the delivery timeout plus a
margin) before another worker may take them, so this test takes that long.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice.delivery.settings import DeliverySettings
from backoffice.facade import Backoffice
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, seed

pytestmark = pytest.mark.slow
COUNT = 60
ANSWERED = 20  # acknowledged before the kill; the receiver holds the ones after
TIMEOUT_S = 2.0  # --delivery-timeout: a held attempt must not time out before the kill
SETTINGS = DeliverySettings(timeout_s=TIMEOUT_S)
SERVE_ARGS = ["--allow-private-targets", "--retry-schedule", "0.5,0.5,0.5",
              "--worker-interval", "0.05", "--delivery-timeout", str(TIMEOUT_S)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(sibs_secret=SIBS_SECRET, delay_s=0.03, answer_first=ANSWERED,
                      reject_unopened=True)
    yield server
    server.close()


def deliveries(base: str, token: str, webhook_id: str) -> dict[str, dict[str, Any]]:
    """The webhook's deliveries by notification id, read through the API."""
    answer = httpx.get(f"{base}/v1/webhooks/{webhook_id}/deliveries", params={"limit": 1000},
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    answer.raise_for_status()
    return {d["notification_id"]: d for d in answer.json()["data"]}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, *,
             every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def test_kill_9_mid_delivery_loses_nothing_and_resends_only_what_was_in_flight(
        processes: Processes, receiver: Receiver, tmp_path: Path) -> None:
    db = tmp_path / "bo.db"
    token, _ = seed(db)
    # Webhook and notifications go in before the server starts, through the service the
    # API calls: its worker's first round then claims all 60 at once. Emitted through a
    # running server, they would race the worker, and an attempt held by the receiver
    # would wait out the emits, maybe past the delivery timeout (a retry, not a crash).
    # A loopback receiver, as the servers (--allow-private-targets) allow.
    with Backoffice.open(f"sqlite:///{db}", allow_private_targets=True) as office:
        hook = office.webhooks.create_webhook("demo", {
            "name": "orders", "type": "url", "url": receiver.url("/hooks"),
            "application": "merchant", "notifications": ["mbway"], "secret": SIBS_SECRET,
            "format": "sibs"})["id"]
        emitted = [office.deliveries.emit_notification(
                       "demo", {"terminal": "10001", "type": "mbway"})
                   ["notification"]["notificationID"] for _ in range(COUNT)]
    first = Server(processes, db, tmp_path, args=SERVE_ARGS)

    # 20 acknowledged and recorded, 4 in flight (held by the receiver: one webhook's slots).
    def settled() -> bool:
        received, acked = receiver.counts()
        return acked == ANSWERED and received == ANSWERED + SETTINGS.per_webhook and sum(
            d["status"] == "delivered" for d in deliveries(first.base, token, hook).values()
        ) == ANSWERED
    wait_for(settled, 15, "20 recorded deliveries and 4 in flight")
    before = deliveries(first.base, token, hook)
    first.kill()
    in_flight = set(receiver.received_ids) - set(receiver.acked)
    receiver.answer_all()
    delivered_before = {nid: d for nid, d in before.items() if d["status"] == "delivered"}
    assert set(delivered_before) == set(receiver.acked) and len(delivered_before) == ANSWERED
    assert len(in_flight) == SETTINGS.per_webhook
    assert sorted(before) == sorted(emitted)

    # The rest never had an attempt recorded: the 4 in flight and the 36 not begun alike.
    assert {(d["status"], d["attempts"]) for nid, d in before.items()
            if nid not in delivered_before} == {("pending", 0)}

    second = Server(processes, db, tmp_path, args=SERVE_ARGS)
    after: dict[str, dict[str, Any]] = {}

    def all_delivered() -> bool:
        nonlocal after
        after = deliveries(second.base, token, hook)
        return all(d["status"] == "delivered" for d in after.values())
    wait_for(all_delivered, SETTINGS.lease_s + 15, "every delivery to be delivered",
             every=0.2)

    # At least once: every emitted notification was acknowledged by the receiver.
    assert set(receiver.acked) == set(emitted) and sorted(after) == sorted(emitted)
    assert receiver.problems == []
    # No recorded delivery is lost or sent again.
    for nid, was in delivered_before.items():
        now = after[nid]
        assert (now["status"], now["attempts"]) == ("delivered", was["attempts"])
        assert receiver.received_ids.count(nid) == was["attempts"] == 1
    # Duplicates are exactly the attempts in flight at the kill, each sent once more,
    # and not before its lease ran out (another worker might have been still on it).
    sent = Counter(receiver.received_ids)
    duplicated = {nid for nid, n in sent.items() if n > 1}
    assert duplicated == in_flight and {sent[nid] for nid in duplicated} == {2}
    for nid in duplicated:
        first_try, second_try = receiver.times[nid]
        assert second_try - first_try > SETTINGS.lease_s - 2
    # The attempt the kill cut short left no trace but its lease: one attempt each.
    assert {d["attempts"] for d in after.values()} == {1}
    assert second.stop() == 0

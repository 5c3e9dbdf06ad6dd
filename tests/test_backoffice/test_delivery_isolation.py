"""Deliveries are scheduled per destination: a receiver that hangs holds only its own
webhook's slots, merchants take turns, a lease lives as long as its attempt, and stopping
the worker finishes what is in flight and starts nothing new.

Everything is proved by the order of events (what a receiver holds or has answered when
another one acknowledges, what the delivery log says at that moment), never by timings.
Receivers are real HTTP servers on 127.0.0.1 (tests/support/receivers.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice import Backoffice
from backoffice.db import tables
from backoffice.delivery.settings import DeliverySettings
from backoffice.delivery.worker import DeliveryWorker
from contract.times import iso_millis
from tests.support.backoffice import Clock, loopback_resolver, url_webhook
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET

QUEUED = 100
PER_WEBHOOK = 4
WAIT = 30.0  # bound of every wait below: a test that fails stops by itself


def wait_for(what: str, predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.005)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Backoffice]:
    # A long timeout: a held request must never time out during the test.
    settings = DeliverySettings(resolver=loopback_resolver, timeout_s=30.0,
                                per_webhook=PER_WEBHOOK, retry_schedule=(3600.0,))
    opened = Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}", delivery=settings,
                             allow_private_targets=True)
    opened.merchants.create_merchant("acme", "Acme Corp")
    opened.merchants.add_store("acme", "ACM-01", "Acme HQ")
    opened.merchants.add_terminal("acme", "90001", "ACM-01")
    yield opened
    opened.close()


@pytest.fixture
def hanging() -> Iterator[Receiver]:
    """Holds every request unanswered until ``answer_all`` (then drops them)."""
    server = Receiver(answer_first=0)
    yield server
    server.close()


def emit(office: Backoffice, merchant: str = "demo", terminal: str = "10001") -> str:
    made = office.deliveries.emit_notification(merchant, {"terminal": terminal, "type": "mbway"})
    return str(made["notification"]["notificationID"])


def hook(office: Backoffice, merchant: str, name: str, receiver: Receiver) -> dict[str, Any]:
    return office.webhooks.create_webhook(merchant, url_webhook(
        name, url=receiver.url(f"/{name}"), secret=SIBS_SECRET, notifications=["mbway"],
        application="store:ACM-01" if merchant == "acme" else "terminal:10001"))


@pytest.mark.parametrize("other_merchant", ["acme", "demo"])
def test_a_hanging_receiver_delays_only_its_own_deliveries(
        office: Backoffice, hanging: Receiver, receiver: Receiver, other_merchant: str) -> None:
    stuck = hook(office, "demo", "stuck", hanging)
    # The other webhook: another merchant's, or another terminal's of the same merchant.
    other = hook(office, other_merchant, "other", receiver) if other_merchant == "acme" \
        else office.webhooks.create_webhook("demo", url_webhook(
            "other", url=receiver.url("/other"), secret=SIBS_SECRET, notifications=["mbway"],
            application="terminal:20001"))
    queued = [emit(office) for _ in range(QUEUED)]
    worker = DeliveryWorker(office.deliveries, interval_s=0.05)
    worker.start()
    try:
        wait_for("the hanging receiver to hold its first requests",
                 lambda: len(hanging.received_ids) == PER_WEBHOOK)
        wanted = emit(office, other_merchant, "90001" if other_merchant == "acme" else "20001")
        wait_for("the other receiver's acknowledgement", lambda: wanted in receiver.acked)
        # The acknowledgement came while the hanging receiver still held its first
        # requests (none answered, none timed out: no attempt of them is recorded) ...
        held = hanging.received_ids
        assert sorted(held) == sorted(queued[:PER_WEBHOOK]) and hanging.acked == []
        # ... and it was recorded as delivered (the log says so only after a commit).
        wait_for("the other delivery to be recorded", lambda: office.deliveries.list_deliveries(
            other_merchant, other["id"])[0]["status"] == "delivered")
        stuck_log = office.deliveries.list_deliveries("demo", stuck["id"], limit=QUEUED)
        assert {(d["status"], d["attempts"]) for d in stuck_log} == {("pending", 0)}
        # A webhook gets no more than its slots, however much of it is due.
        assert hanging.received_ids == held
    finally:
        hanging.answer_all()  # the held requests end (unanswered: failures, retried later)
        assert worker.stop(timeout=WAIT)
    assert len(hanging.received_ids) >= PER_WEBHOOK and receiver.received_ids == [wanted]


def test_merchants_take_turns(tmp_path: Path, receiver: Receiver) -> None:
    """One slot in all: the due deliveries go one merchant after the other, although one
    merchant's were all queued before the other's."""
    settings = DeliverySettings(resolver=loopback_resolver, timeout_s=5.0, concurrency=1)
    with Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}", delivery=settings,
                         allow_private_targets=True) as office:
        office.merchants.create_merchant("acme", "Acme Corp")
        office.merchants.add_store("acme", "ACM-01", "Acme HQ")
        office.merchants.add_terminal("acme", "90001", "ACM-01")
        hook(office, "demo", "demo-hook", receiver)
        hook(office, "acme", "acme-hook", receiver)
        demo = [emit(office) for _ in range(6)]
        acme = [emit(office, "acme", "90001") for _ in range(3)]
        assert office.deliveries.deliver_due() == 9
    owner = {nid: "demo" for nid in demo} | {nid: "acme" for nid in acme}
    order = [owner[nid] for nid in receiver.received_ids]
    assert order == ["demo", "acme"] * 3 + ["demo"] * 3
    assert receiver.received_ids == [demo[0], acme[0], demo[1], acme[1], demo[2], acme[2],
                                     *demo[3:]]


def test_deliver_due_tries_each_due_delivery_once_up_to_its_limit(
        tmp_path: Path, receiver: Receiver) -> None:
    receiver.script = ["500"]
    settings = DeliverySettings(resolver=loopback_resolver, timeout_s=5.0, per_webhook=2,
                                retry_schedule=(0.0, 0.0))
    with Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}", delivery=settings,
                         allow_private_targets=True) as office:
        made = hook(office, "demo", "orders", receiver)
        for _ in range(7):
            emit(office)
        # Due again at once after a failure, yet each is attempted once per call.
        assert office.deliveries.deliver_due() == 7
        assert office.deliveries.deliver_due(limit=3) == 3
        states = office.deliveries.list_deliveries("demo", made["id"])
    assert sorted(d["attempts"] for d in states) == [1] * 4 + [2] * 3
    assert len(receiver.received_ids) == 10


def test_the_lease_lives_as_long_as_the_attempt(tmp_path: Path, hanging: Receiver) -> None:
    """An attempt that outlasts its first lease keeps the delivery: the worker extends
    the lease while the attempt runs, so another worker on the database leaves it alone;
    once the outcome is committed, nobody sends it again."""
    clock = Clock()
    settings = DeliverySettings(resolver=loopback_resolver, timeout_s=30.0,
                                lease_margin_s=0.4)
    url = f"sqlite:///{tmp_path / 'bo.db'}"
    first = Backoffice.open(url, delivery=settings, allow_private_targets=True, clock=clock)
    second = Backoffice.open(url, delivery=settings, allow_private_targets=True, clock=clock)
    worker = DeliveryWorker(first.deliveries, interval_s=0.05)
    try:
        made = hook(first, "demo", "orders", hanging)
        nid = emit(first)
        worker.start()
        wait_for("the attempt to be held", lambda: hanging.received_ids == [nid])
        clock.advance(seconds=settings.lease_s + 60)  # the first lease is long past

        def lease() -> str:
            with first.db.read() as conn:
                (row,) = conn.execute(tables.deliveries.select()).all()
            return str(row.lease_until)
        wait_for("the lease to be extended", lambda: lease() > iso_millis(clock.now))
        assert second.deliveries.deliver_due() == 0  # held: not due for another worker
        hanging.answer_all()  # the held request is dropped: the attempt fails
        wait_for("the failure to be recorded", lambda: first.deliveries.list_deliveries(
            "demo", made["id"])[0]["attempts"] == 1)
    finally:
        hanging.answer_all()
        assert worker.stop(timeout=WAIT)
        first.close()
        second.close()
    assert hanging.received_ids == [nid]


def test_stop_finishes_the_attempts_in_flight_and_starts_nothing(
        office: Backoffice, hanging: Receiver) -> None:
    made = hook(office, "demo", "orders", hanging)
    queued = [emit(office) for _ in range(10)]
    worker = DeliveryWorker(office.deliveries, interval_s=0.05)
    worker.start()
    wait_for("the attempts to be held", lambda: len(hanging.received_ids) == PER_WEBHOOK)
    assert worker.stop(timeout=0.01) is False  # held: the attempts are still in flight
    more = [emit(office) for _ in range(3)]  # signalled, but nothing new may start
    hanging.answer_all()  # the held attempts end (dropped unanswered: failures)
    assert worker.stop(timeout=WAIT) and not worker.running
    states = {d["notification_id"]: d for d in office.deliveries.list_deliveries(
        "demo", made["id"], limit=100)}
    assert sorted(hanging.received_ids) == sorted(queued[:PER_WEBHOOK])
    assert {(states[n]["status"], states[n]["attempts"]) for n in queued[:PER_WEBHOOK]} == {
        ("failed", 1)}  # recorded before stop returned
    assert {(states[n]["status"], states[n]["attempts"]) for n in queued[PER_WEBHOOK:] + more
            } == {("pending", 0)}

"""Deliveries end to end against a real receiver on 127.0.0.1: fan-out, both formats,
acknowledgements right and wrong, retries and giving up, restarts, concurrent workers,
test fires, and secrets kept out of logs, rows and responses."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from backoffice import Backoffice
from backoffice.db import delivery_queries, tables
from backoffice.delivery.engine import parse_moment
from backoffice.delivery.settings import DEFAULT_SCHEDULE, DeliverySettings
from backoffice.delivery.ssrf import GUARD_PREFIX
from backoffice.errors import Invalid, NotFound
from tests.support.backoffice import (
    Clock,
    email_webhook,
    loopback_resolver,
    stored_bytes,
    url_webhook,
)
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET, WHSEC

OpenOffice = Callable[..., Backoffice]


@pytest.fixture
def open_office(db_url: str, db_path: Path) -> Iterator[OpenOffice]:
    """Opens backoffices on one database (SQLite, or PostgreSQL) that may deliver to
    loopback."""
    opened: list[Backoffice] = []

    def make(clock: Clock | None = None, **settings: Any) -> Backoffice:
        delivery = DeliverySettings(**{"resolver": loopback_resolver, "timeout_s": 2.0,
                                       **settings})
        office = Backoffice.open(db_url, data_dir=db_path.parent, delivery=delivery,
                                 allow_private_targets=settings.get("allow_private_targets",
                                                                    True),
                                 **({"clock": clock} if clock else {}))
        opened.append(office)
        return office

    yield make
    for office in opened:
        office.close()


def emit(office: Backoffice, terminal: str = "10001", type: str = "mbway",
         merchant: str = "demo", **extra: Any) -> dict[str, Any]:
    return office.deliveries.emit_notification(
        merchant, {"terminal": terminal, "type": type, **extra})


def only_delivery(office: Backoffice, webhook_id: str) -> dict[str, Any]:
    (delivery,) = office.deliveries.list_deliveries("demo", webhook_id)
    return delivery


def test_emit_fans_out_to_enabled_covering_subscribed_webhooks(open_office: OpenOffice) -> None:
    office = open_office()
    made = {
        "all": office.webhooks.create_webhook("demo", url_webhook("all", notifications=["mbway"])),
        "lisbon": office.webhooks.create_webhook("demo", url_webhook(
            "lisbon", application="store:LIS-01", notifications=["mbway", "xpay"])),
        "porto": office.webhooks.create_webhook("demo", url_webhook(
            "porto", application="store:POR-01", notifications=["mbway"])),
        "till-xpay": office.webhooks.create_webhook("demo", url_webhook(
            "till-xpay", application="terminal:10001", notifications=["xpay"])),
        "till-off": office.webhooks.create_webhook("demo", url_webhook(
            "till-off", application="terminal:10001", notifications=["mbway"], enabled=False)),
        "mail": office.webhooks.create_webhook("demo", email_webhook("mail")),
    }
    office.merchants.create_merchant("acme", "Acme Corp")
    office.merchants.add_store("acme", "ACM-01", "Acme HQ")
    office.merchants.add_terminal("acme", "90001", "ACM-01")
    acme = office.webhooks.create_webhook("acme", url_webhook("acme-all", notifications=["mbway"]))
    acme_result = emit(office, "90001", merchant="acme")
    assert [d["webhook_id"] for d in acme_result["deliveries"]] == [acme["id"]]
    result = emit(office, amount={"value": 12.5, "currency": "EUR"}, payment_method="MBWAY")
    assert sorted(d["webhook"] for d in result["deliveries"]) == ["all", "lisbon", "mail"]
    assert {d["status"] for d in result["deliveries"]} == {"pending"}
    assert {d["webhook_id"] for d in result["deliveries"]} == {
        made[n]["id"] for n in ("all", "lisbon", "mail")}
    note = result["notification"]
    assert result["notification_type"] == "mbway" and result["scenario"] == "mbway-purchase"
    assert note["paymentStatus"] == "Success" and note["paymentType"] == "PURS"
    # the gateway sends no "type" and no "test" in a real notification
    assert "type" not in note and "test" not in note
    assert note["amount"] == {"value": 12.5, "currency": "EUR"}
    assert note["merchant"]["terminalId"] == "10001"
    assert note["merchant"]["merchantName"] == "Demo Shop"
    assert note["returnStatus"] == {"statusCode": "000", "statusMsg": "Success"}
    assert set(note) >= {"notificationID", "paymentMethod", "transactionID", "transactionDateTime"}
    porto = emit(office, terminal="20001", type="xpay")
    assert porto["deliveries"] == []  # nobody covers 20001 with xpay
    pending = only_delivery(office, made["all"]["id"])
    assert pending["status"] == "pending" and pending["attempts"] == 0
    assert pending["notification_id"] == note["notificationID"] and pending["test"] is False


@pytest.mark.parametrize(("body", "message"), [
    ({"terminal": "90001", "type": "mbway"}, "terminal '90001' is not one of this merchant's"),
    ({"terminal": "10001", "type": "card"}, "unknown notification type 'card'"),
    ({"terminal": "10001"}, "type or scenario is required"),
    ({"terminal": "10001", "scenario": "mbway-purchse"}, "did you mean 'mbway-purchase'"),
    ({"terminal": "10001", "type": "xpay", "scenario": "mbway-purchase"},
     "belongs to notification type 'mbway', not 'xpay'"),
    ({"terminal": "10001", "scenario": 7}, "must be a scenario name"),
    ({"terminal": "10001", "type": "mbway", "colour": "red"}, "unknown field 'colour'"),
    ({"terminal": "10001", "type": "mbway", "status": "Maybe"}, "status must be one of"),
    ({"terminal": "10001", "type": "mbway", "amount": {"value": -1}}, "amount.value"),
    ({"terminal": "10001", "type": "mbway", "amount": {"value": 1, "currency": "eu"}},
     "amount.currency"),
    ({"terminal": "10001", "type": "mbway", "payment_method": "a b"}, "payment_method"),
])
def test_emit_rules(open_office: OpenOffice, body: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        open_office().deliveries.emit_notification("demo", body)


def test_sibs_delivery_is_acknowledged(open_office: OpenOffice, receiver: Receiver) -> None:
    office = open_office()
    hook = office.webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    note = emit(office, amount={"value": 7, "currency": "EUR"})["notification"]
    assert office.deliveries.deliver_due() == 1
    (got,) = receiver.received
    assert got.problem is None and got.notification == note  # opened with AESGCM directly
    assert got.headers["content-type"] == "text/plain"
    done = only_delivery(office, hook["id"])
    assert done["status"] == "delivered" and done["attempts"] == 1
    assert done["last_status_code"] == 200 and done["last_error"] is None
    assert done["next_attempt_at"] is None and note["notificationID"] in done["response_excerpt"]
    assert office.deliveries.deliver_due() == 0


def test_standard_webhooks_delivery_any_2xx(open_office: OpenOffice, receiver: Receiver) -> None:
    receiver.script = ["204"]
    office = open_office()
    hook = office.webhooks.create_webhook("demo", url_webhook(url=receiver.url(), secret=WHSEC,
                                                              format="standard-webhooks"))
    note = emit(office)["notification"]
    assert office.deliveries.deliver_due() == 1
    (got,) = receiver.received
    assert got.problem is None and got.notification == note  # the standardwebhooks library
    assert got.envelope is not None and got.envelope["type"] == "mbway.purchase"
    assert got.headers["webhook-id"] == "msg_" + note["notificationID"]
    assert got.headers["content-type"] == "application/json"
    assert only_delivery(office, hook["id"])["status"] == "delivered"


@pytest.mark.parametrize(("behaviour", "error"), [
    ("wrong-id", "notificationID is not this notification's"),
    ("wrong-msg", "statusMsg is 'Failure'"),
    ("wrong-code", "statusCode is '500'"),
    ("500", "HTTP 500"),
    ("redirect", "redirect not followed"),
    ("not-json", "expected the JSON acknowledgement"),
    ("204", "HTTP 204: a sibs receiver acknowledges with 200"),
    ("slow", "timed out after 0.4 s"),
    ("drip", "timed out after 0.4 s"),  # every read is quick, the whole is not
    ("big", "expected the JSON acknowledgement"),
])
def test_a_wrong_answer_is_a_failure_retried_later(open_office: OpenOffice, receiver: Receiver,
                                                    behaviour: str, error: str) -> None:
    receiver.script, receiver.slow_s = [behaviour], 1.2
    clock = Clock()
    office = open_office(clock, timeout_s=0.4)
    hook = office.webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    emit(office)
    assert office.deliveries.deliver_due() == 1
    failed = only_delivery(office, hook["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert error in failed["last_error"]
    assert parse_moment(failed["next_attempt_at"]) == clock.now + timedelta(minutes=5)
    assert office.deliveries.deliver_due() == 0  # not due yet
    if behaviour == "redirect":
        assert failed["last_status_code"] == 302
    if behaviour == "500":
        assert failed["last_status_code"] == 500 and "boom" in failed["response_excerpt"]
    if behaviour == "big":
        assert failed["response_excerpt"] == "x" * 1024


def test_the_default_schedule_retries_for_three_days_then_gives_up(open_office: OpenOffice,
                                                                    receiver: Receiver) -> None:
    receiver.script = ["500"]
    clock = Clock()
    start = clock.now
    office = open_office(clock)
    hook = office.webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    emit(office)
    gaps = []
    while True:
        assert office.deliveries.deliver_due() == 1
        state = only_delivery(office, hook["id"])
        if state["next_attempt_at"] is None:
            break
        due = parse_moment(state["next_attempt_at"])
        gaps.append((due - clock.now).total_seconds())
        clock.now = due - timedelta(seconds=1)
        assert office.deliveries.deliver_due() == 0  # a second early: nothing
        clock.now = due
    assert tuple(gaps) == DEFAULT_SCHEDULE
    assert state["status"] == "gave_up" and state["attempts"] == len(DEFAULT_SCHEDULE) + 1
    assert timedelta(days=3) < clock.now - start < timedelta(days=3, hours=2)
    assert len(receiver.received) == 12 - 1
    assert len({r.notification["notificationID"] for r in receiver.received  # type: ignore[index]
                }) == 1
    assert len({r.headers["x-initialization-vector"] for r in receiver.received}) == 11


def test_a_fast_schedule_retries_until_acknowledged(open_office: OpenOffice,
                                                     receiver: Receiver) -> None:
    receiver.script = ["500", "wrong-id", "ack"]
    office = open_office(retry_schedule=(0.05, 0.05, 0.05))
    hook = office.webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    emit(office)
    for _ in range(100):
        office.deliveries.deliver_due()
        if only_delivery(office, hook["id"])["status"] == "delivered":
            break
        threading.Event().wait(0.02)
    state = only_delivery(office, hook["id"])
    assert state["status"] == "delivered" and state["attempts"] == 3


def test_pending_deliveries_survive_a_restart(open_office: OpenOffice, receiver: Receiver) -> None:
    clock = Clock()
    first = open_office(clock)
    hook = first.webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    emitted = [emit(first)["notification"]["notificationID"] for _ in range(3)]
    # one of them is mid-attempt when the process dies: claimed, never finished
    with first.db.write() as conn:
        (held,) = delivery_queries.claim_due(conn, now="2026-11-28T04:00:00.000Z",
                                             lease_until="2026-11-28T04:01:00.000Z",
                                             claim="dead", limit=1)
    first.close()
    second = open_office(clock)
    assert second.deliveries.deliver_due() == 2  # the held one waits for its lease
    clock.advance(seconds=61)
    assert second.deliveries.deliver_due() == 1
    assert sorted(r.notification["notificationID"] for r in receiver.received  # type: ignore[index]
                  ) == sorted(emitted)
    assert {d["status"] for d in second.deliveries.list_deliveries("demo", hook["id"])} \
        == {"delivered"}
    assert held.id in {d["id"] for d in second.deliveries.list_deliveries("demo", hook["id"])}


def test_two_workers_on_one_database_never_take_the_same_delivery(
        open_office: OpenOffice, receiver: Receiver) -> None:
    offices = [open_office(concurrency=4), open_office(concurrency=4)]
    hook = offices[0].webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    for _ in range(40):
        emit(offices[0])
    counts: list[int] = []

    def work(office: Backoffice) -> None:
        while (n := office.deliveries.deliver_due(limit=5)) > 0:
            counts.append(n)

    threads = [threading.Thread(target=work, args=(o,)) for o in offices for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(counts) == 40
    ids = [r.notification["notificationID"] for r in receiver.received]  # type: ignore[index]
    assert len(ids) == 40 and len(set(ids)) == 40
    states = offices[1].deliveries.list_deliveries("demo", hook["id"], limit=100)
    assert [d["attempts"] for d in states] == [1] * 40


def test_disabled_or_deleted_webhooks_get_nothing(open_office: OpenOffice,
                                                  receiver: Receiver) -> None:
    office = open_office()
    off = office.webhooks.create_webhook("demo", url_webhook("off", url=receiver.url(),
                                                             secret=SIBS_SECRET))
    gone = office.webhooks.create_webhook("demo", url_webhook("gone", url=receiver.url(),
                                                              secret=SIBS_SECRET))
    emit(office)
    office.webhooks.update_webhook("demo", off["id"], {"enabled": False})
    office.webhooks.delete_webhook("demo", gone["id"])
    assert office.deliveries.deliver_due() == 1
    state = only_delivery(office, off["id"])
    assert state["status"] == "gave_up" and "disabled" in state["last_error"]
    with pytest.raises(NotFound):
        office.deliveries.list_deliveries("demo", gone["id"])
    assert receiver.received == []


def test_test_fire_acknowledged(open_office: OpenOffice, receiver: Receiver) -> None:
    office = open_office()
    hook = office.webhooks.create_webhook("demo", url_webhook(
        url=receiver.url(), secret=SIBS_SECRET, application="store:POR-01",
        notifications=["xpay", "mbway"]))
    result = office.deliveries.test_webhook("demo", hook["id"])
    assert result["delivered"] is True and result["reason"] == "acknowledged"
    note = result["notification"]
    assert note["test"] is True and result["notification_type"] == "mbway"  # the first
    assert result["scenario"] == "mbway-purchase" and "type" not in note
    assert note["merchant"]["terminalId"] == "20001"  # a terminal the webhook covers
    assert receiver.received[0].notification == note
    request = result["request"]
    assert request["method"] == "POST" and request["url"] == receiver.url()
    assert set(request["headers"]) == {"Content-Type", "X-Initialization-Vector",
                                       "X-Authentication-Tag"}
    assert request["body_excerpt"] == receiver.received[0].body.decode()[:512]
    response = result["response"]
    assert response["status"] == 200 and response["error"] is None
    assert response["duration_ms"] > 0 and note["notificationID"] in response["body_excerpt"]
    assert response["headers"]["content-type"] == "application/json"
    logged = only_delivery(office, hook["id"])
    assert logged["id"] == result["delivery_id"] and logged["test"] is True
    assert logged["status"] == "delivered" and logged["notification_type"] == "mbway"
    xpay = office.deliveries.test_webhook("demo", hook["id"], notification_type="xpay")
    assert xpay["notification_type"] == "xpay" and xpay["delivered"]
    assert xpay["notification"]["paymentMethod"] == "XPAY"


def test_test_fire_failures_are_reported_not_retried(open_office: OpenOffice,
                                                     receiver: Receiver) -> None:
    receiver.script = ["wrong-msg"]
    office = open_office()
    hook = office.webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    result = office.deliveries.test_webhook("demo", hook["id"])
    assert result["delivered"] is False and "statusMsg is 'Failure'" in result["reason"]
    assert result["response"]["status"] == 200 and result["response"]["error"] is None
    assert only_delivery(office, hook["id"])["status"] == "gave_up"
    assert office.deliveries.deliver_due() == 0
    closed = office.webhooks.create_webhook("demo", url_webhook(
        "closed", url="http://127.0.0.1:9/x", secret=SIBS_SECRET))
    refused = office.deliveries.test_webhook("demo", closed["id"])
    assert refused["response"]["error"] == "connection refused"
    assert refused["response"]["status"] is None and not refused["delivered"]


def test_test_fire_rules(open_office: OpenOffice) -> None:
    office = open_office()
    mail = office.webhooks.create_webhook("demo", email_webhook())
    with pytest.raises(Invalid) as caught:
        office.deliveries.test_webhook("demo", mail["id"])
    assert caught.value.detail == ("an e-mail webhook can't be tested; only URL webhooks "
                                   "have a test")
    hook = office.webhooks.create_webhook("demo", url_webhook(notifications=["mbway"]))
    with pytest.raises(Invalid, match="'xpay' is not one this webhook subscribes to; "
                                      "it subscribes to: mbway"):
        office.deliveries.test_webhook("demo", hook["id"], notification_type="xpay")
    with pytest.raises(NotFound):
        office.deliveries.test_webhook("acme", hook["id"])
    with pytest.raises(NotFound):
        office.deliveries.list_deliveries("acme", hook["id"])
    with pytest.raises(Invalid, match="limit"):
        office.deliveries.list_deliveries("demo", hook["id"], limit=0)


def test_the_guard_applies_unless_private_targets_are_allowed(open_office: OpenOffice,
                                                              receiver: Receiver) -> None:
    # Made while private targets were allowed; this server refuses them: the guard still
    # holds at delivery (a server that refuses private targets refuses such a URL at
    # create: test_backoffice_api.py::test_urls_to_private_literals_are_refused...).
    hook = open_office().webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    office = open_office(allow_private_targets=False)
    result = office.deliveries.test_webhook("demo", hook["id"])
    assert result["delivered"] is False
    assert result["response"]["error"] == f"{GUARD_PREFIX}: 127.0.0.1 is loopback"
    emit(office)
    office.deliveries.deliver_due()
    failed = [d for d in office.deliveries.list_deliveries("demo", hook["id"]) if not d["test"]]
    assert failed[0]["status"] == "failed" and GUARD_PREFIX in failed[0]["last_error"]
    assert receiver.received == []


def test_secrets_stay_out_of_logs_rows_and_responses(
        open_office: OpenOffice, receiver: Receiver, db_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.script = ["ack", "500", "204", "slow"]
    receiver.slow_s = 0.6
    office = open_office(timeout_s=0.3)
    sibs = office.webhooks.create_webhook("demo", url_webhook(
        "sibs", url=receiver.url().replace("http://", "http://ops:hunter2pw@"),
        secret=SIBS_SECRET))
    std = office.webhooks.create_webhook("demo", url_webhook(
        "std", url=receiver.url(), secret=WHSEC, format="standard-webhooks"))
    shown = [office.deliveries.test_webhook("demo", sibs["id"]),
             office.deliveries.test_webhook("demo", std["id"])]
    shown.append(emit(office))
    office.deliveries.deliver_due()
    shown += [office.deliveries.list_deliveries("demo", w["id"]) for w in (sibs, std)]
    text = json.dumps(shown)
    assert shown[0]["request"]["url"] == receiver.url().replace("http://", "http://ops:***@")
    assert receiver.received[0].headers["authorization"].startswith("Basic ")
    stored = stored_bytes(office, db_path.parent)
    assert b"sibs" in stored  # not vacuous
    for secret in (SIBS_SECRET, WHSEC, WHSEC.removeprefix("whsec_")):
        assert secret not in text
        assert secret not in caplog.text
        assert secret.encode() not in stored
    assert "hunter2pw" not in text and "hunter2pw" not in caplog.text
    assert "delivered" in caplog.text and "failed" in caplog.text  # the log did say things


def test_a_version_1_database_is_migrated(open_office: OpenOffice, receiver: Receiver) -> None:
    office = open_office()
    hook = office.webhooks.create_webhook(
        "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
    with office.db.write() as conn:  # as the first release left it
        for table in ("attempts", "deliveries", "notifications"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        for column in ("url_sealed", "url_fingerprint"):
            conn.exec_driver_sql(f"ALTER TABLE webhooks DROP COLUMN {column}")
        conn.exec_driver_sql("DELETE FROM schema_version")
        conn.exec_driver_sql("INSERT INTO schema_version (version) VALUES (1)")
    office.close()
    migrated = open_office()
    with migrated.db.read() as conn:
        version = conn.exec_driver_sql("SELECT max(version) FROM schema_version").scalar()
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("deliveries")}
        columns = {c["name"] for c in inspect(conn).get_columns("webhooks")}
    assert version == tables.SCHEMA_VERSION
    assert {"ix_deliveries_due", "ix_deliveries_webhook"} <= indexes
    assert {"url_sealed", "url_fingerprint"} <= columns
    emit(migrated)
    assert migrated.deliveries.deliver_due() == 1
    assert only_delivery(migrated, hook["id"])["status"] == "delivered"

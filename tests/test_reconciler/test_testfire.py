"""Rendering a TestResult, and what apply reports after test-firing: pure parts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.details import summarize
from reconciler.emit import emit_body
from reconciler.errors import ReconcilerError
from reconciler.model import RemoteWebhook
from reconciler.render.deliveries import render_emitted, render_table
from reconciler.render.testfire import Fired, render_text
from reconciler.testfire import outcome, reason

NOTIFICATION = {
    "returnStatus": {"statusCode": "000", "statusMsg": "Success"}, "paymentStatus": "Success",
    "paymentMethod": "MBWAY", "transactionID": "s2abc",
    "transactionDateTime": "2026-11-28T04:00:00Z", "amount": {"value": 12.5, "currency": "EUR"},
    "merchant": {"terminalId": "10001", "transactionId": "t-1", "merchantName": "Demo Shop",
                 "inApp": "false"},
    "paymentType": "PURS", "token": {"tokenType": "MobilePhone", "value": "351#912345678"},
    "notificationID": "6f1c2a", "test": True,
}


def webhook(**kw: Any) -> RemoteWebhook:
    base: dict[str, Any] = {"id": "wh_1", "name": "orders-backend", "type": "url",
                            "url": "http://127.0.0.1:9999/hooks", "email": None,
                            "application": "merchant", "notifications": ["mbway"]}
    return RemoteWebhook.from_api({**base, **kw})


def result(delivered: bool = True, **response: Any) -> dict[str, Any]:
    return {
        "delivered": delivered,
        "reason": "acknowledged" if delivered else "the receiver answered 400",
        "notification": NOTIFICATION,
        "request": {"method": "POST", "url": "http://127.0.0.1:9999/hooks",
                    "headers": {"Content-Type": "text/plain",
                                "X-Initialization-Vector": "aXY=",
                                "X-Authentication-Tag": "dGFn"},
                    "body_excerpt": "QUJD" * 100},
        "response": {"status": 200, "headers": {"content-type": "application/json"},
                     "body_excerpt": '{"statusCode": "200"}', "duration_ms": 12.3,
                     "error": None, **response},
        "delivery_id": "dl_1",
    }


def test_a_delivered_test_renders_notification_request_and_response() -> None:
    fired = Fired(webhook(), result())
    text = render_text(fired)
    assert fired.delivered
    assert text.startswith("Test-fired orders-backend (sibs) -> http://127.0.0.1:9999/hooks")
    assert "[dl_1]" in text.splitlines()[0]
    # the notification, pretty and whole
    assert '  {\n    "returnStatus": {\n' in text and '"notificationID": "6f1c2a"' in text
    assert '"test": true' in text
    assert "  X-Initialization-Vector: aXY=\n  X-Authentication-Tag: dGFn\n" in text
    assert "  body: " + "QUJD" * 30 + "...\n" in text  # a long body is cut
    assert "  HTTP 200 in 12 ms\n" in text and '  | {"statusCode": "200"}' in text
    assert outcome(fired.result) == "delivered (200 in 12 ms)"
    assert fired.data["webhook"] == "orders-backend" and fired.data["delivered"] is True


def test_not_delivered_says_why() -> None:
    refused = result(False, status=400, body_excerpt="bad tag\n\x1b[2Jcleared")
    assert outcome(refused) == "NOT delivered: the receiver answered 400"
    text = render_text(Fired(webhook(), refused))
    assert "\x1b" not in text and "\\x1b[2Jcleared" in text  # a receiver can't drive the tty

    down = result(False, status=None, error="connection refused", body_excerpt="")
    down["reason"] = None
    assert reason(down) == "connection refused"
    text = render_text(Fired(webhook(), down))
    assert "  no response after 12 ms: connection refused" in text

    bare = {"delivered": False, "response": {"status": 503}}
    assert outcome(bare) == "NOT delivered: the receiver answered HTTP 503"
    assert outcome({"delivered": False}) == "NOT delivered: no reason given"


def test_a_url_with_a_password_is_shown_redacted() -> None:
    hook = webhook(url="https://user:pw-Secret@hooks.example/x")
    partial = {"delivered": True, "notification": {}, "response": {"status": 200}}
    text = render_text(Fired(hook, partial))
    assert "pw-Secret" not in text and "https://user:***@hooks.example/x" in text


def test_summaries_of_the_delivery_log() -> None:
    ok = {"id": "dl_1", "notification_type": "mbway", "test": True, "status": "delivered",
          "attempts": 1, "created_at": "2026-11-28T04:00:00Z",
          "last_attempt_at": "2026-11-28T04:00:01Z", "last_status_code": 200}
    failing = {"id": "dl_2", "notification_type": "xpay", "test": False, "status": "failed",
               "attempts": 3, "created_at": "2026-11-28T03:00:00Z", "last_attempt_at": None,
               "next_attempt_at": "2026-11-28T05:00:00Z", "last_status_code": None,
               "last_error": "connection\nrefused " + "x" * 300}
    first = summarize(ok)
    assert (first.at, first.notification_type, first.status, first.detail) == (
        "2026-11-28T04:00:01Z", "mbway (test)", "delivered", "HTTP 200")
    second = summarize(failing)
    assert second.at == "2026-11-28T03:00:00Z" and second.detail.startswith("connection refused")
    assert second.detail.endswith(", 3 attempts") and "\n" not in second.detail

    table = render_table([ok, failing], "orders-backend")
    lines = table.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "TYPE", "STATUS", "ATTEMPTS", "HTTP", "DETAIL"]
    assert "mbway (test)" in lines[1] and "delivered" in lines[1] and lines[1].endswith(" 200")
    assert "failed" in lines[2] and lines[2].endswith("...")  # long details are cut
    assert render_table([], "orders-backend") == "No deliveries for orders-backend yet.\n"


def test_emit_body_and_result() -> None:
    assert emit_body(terminal="10001", type="mbway") == {"terminal": "10001", "type": "mbway"}
    body = emit_body(terminal="10001", type="mbway", status="Declined", amount="12.50",
                     currency="eur", method="MBWAY")
    assert body == {"terminal": "10001", "type": "mbway", "status": "Declined",
                    "payment_method": "MBWAY", "amount": {"value": 12.5, "currency": "EUR"}}
    for bad in ("twelve", "-1", "nan", "inf"):
        try:
            emit_body(terminal="10001", type="mbway", amount=bad)
        except ReconcilerError as exc:
            assert "--amount must be a non-negative number" in str(exc)
        else:
            raise AssertionError(bad)

    with pytest.raises(ReconcilerError, match="give --type TYPE or --scenario NAME"):
        emit_body(terminal="10001")
    assert emit_body(terminal="10001", scenario="cit-ucof") == {"terminal": "10001",
                                                                "scenario": "cit-ucof"}
    with pytest.raises(ReconcilerError, match="did you mean 'cit-ucof'"):
        emit_body(terminal="10001", scenario="cit-ucf")
    with pytest.raises(ReconcilerError, match="belongs to notification type 'key-enter-token'"):
        emit_body(terminal="10001", type="mbway", scenario="cit-ucof")

    emitted = {"notification": NOTIFICATION, "notification_type": "mbway",
               "scenario": "mbway-purchase",
               "deliveries": [{"id": "dl_1", "webhook": "orders-backend", "webhook_id": "wh_1",
                               "status": "delivered"},
                              {"id": "dl_2", "webhook": "mail", "webhook_id": "wh_2",
                               "status": "pending"}]}
    text = render_emitted(emitted)
    assert text.splitlines()[:2] == [
        "Notification 6f1c2a (MB WAY purchase (MBWAY/PURS), Success, 12.50 EUR, "
        "token MobilePhone 351#9*****78, terminal 10001)",
        "Scenario mbway-purchase (type mbway), to:"]
    assert "351#912345678" not in text
    assert "  orders-backend  delivered  (dl_1)\n" in text
    assert "  mail            pending    (dl_2)\n" in text
    assert "`webhooks deliveries NAME`" in text
    nobody = render_emitted({"notification": NOTIFICATION, "deliveries": []})
    assert "No webhook receives it" in nobody
    json.dumps(emitted)  # what --format json prints is plain JSON

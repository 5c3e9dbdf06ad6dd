"""`webhooks test`, `apply --test` / `test_on_apply`, `emit`, `deliveries` and `show` end to end
on the embedded default, delivering to real receivers (`webhooks listen` apps on loopback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import kinds
from tests.support.cli import Run
from tests.support.receivers import ListenReceiver
from tests.support.secrets import (
    OTHER_SIBS_SECRET,
    SIBS_SECRET,
    WHSEC,
)


@pytest.fixture
def receivers() -> Iterator[dict[str, ListenReceiver]]:
    started = {"sibs": ListenReceiver(SIBS_SECRET, "sibs"),
               "wrong": ListenReceiver(OTHER_SIBS_SECRET, "sibs"),
               "std": ListenReceiver(WHSEC, "standard-webhooks")}
    yield started
    for receiver in started.values():
        receiver.close()


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SIBS_SECRET", SIBS_SECRET)
    monkeypatch.setenv("STD_SECRET", WHSEC)
    return tmp_path / "webhooks.yaml"


def write(cfg: Path, rx: dict[str, ListenReceiver], **extra: dict[str, Any]) -> None:
    webhooks: dict[str, Any] = {
        "orders": {"type": "url", "url": rx["sibs"].url, "notifications": ["mbway", "xpay"],
                   "secret": "${env:SIBS_SECRET}"},
        "refunds": {"type": "url", "url": rx["std"].url, "format": "standard-webhooks",
                    "application": "terminal:10001", "notifications": ["mbway"],
                    "secret": "${env:STD_SECRET}"},
        "lisbon-mail": {"type": "email", "email": "lisbon@shop.example",
                        "application": "store:LIS-01", "notifications": ["mbway"]},
    }
    for name, fields in extra.items():
        webhooks[name] = {**webhooks.get(name, {}), **fields}
    doc = {"version": 1, "owner": "payments-team", "defaults": {"application": "merchant"},
           "webhooks": webhooks}
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_webhooks_test_shows_the_decrypted_notification_and_exits_0(
    cfg: Path, receivers: dict[str, ListenReceiver], run: Run
) -> None:
    write(cfg, receivers)
    code, out, _ = run("apply", "-f", str(cfg), "--auto-approve")
    assert code == 0 and "test " not in out  # no --test, no test_on_apply: nothing fired

    code, out, err = run("test", "orders", "-f", str(cfg))
    assert code == 0, err
    assert out.startswith("Test-fired orders (sibs) -> " + receivers["sibs"].url)
    assert "Notification sent (scenario mbway-purchase, type mbway):" in out
    assert '"paymentMethod": "MBWAY"' in out and '"test": true' in out
    assert "X-Initialization-Vector: " in out and "HTTP 200 in " in out
    assert '"statusMsg": "Success"' in out  # the receiver's acknowledgement
    result, secret = out.rstrip().splitlines()[-2:]  # the verdict, then what it proves
    assert result.startswith("Result: delivered (200 in ") and secret.startswith("Secret: ")
    notification_id = json.loads(receivers["sibs"].out[1])["notificationID"]
    assert f'"notificationID": "{notification_id}"' in out

    code, out, _ = run("test", "refunds", "-f", str(cfg), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["delivered"] is True and data["webhook"] == "refunds"
    assert data["request"]["headers"]["webhook-signature"].startswith("v1,")
    assert json.loads(receivers["std"].out[1]) == kinds.masked(data["notification"])

    code, out, err = run("test", "lisbon-mail", "-f", str(cfg))
    assert code == 1 and out == ""
    assert "'lisbon-mail' is an e-mail webhook: only URL webhooks can be test-fired" in err

    code, out, err = run("test", "order", "-f", str(cfg))
    assert code == 1 and "Did you mean 'orders'?" in err


def test_a_receiver_holding_another_secret_fails_the_test(
    cfg: Path, receivers: dict[str, ListenReceiver], run: Run
) -> None:
    write(cfg, receivers, orders={"url": receivers["wrong"].url})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    code, out, _ = run("test", "orders", "-f", str(cfg))
    assert code == 1
    assert "HTTP 400 in " in out and "Result: NOT delivered: " in out
    assert "rejected a delivery" in receivers["wrong"].err[0]


def test_apply_test_fires_what_it_changed_and_fails_on_a_bad_receiver(
    cfg: Path, receivers: dict[str, ListenReceiver], run: Run
) -> None:
    write(cfg, receivers)
    code, out, _ = run("apply", "-f", str(cfg), "--auto-approve", "--test")
    assert code == 0
    lines = out.splitlines()
    assert any(line.startswith("test orders: delivered (200 in ") for line in lines)
    assert any(line.startswith("test refunds: delivered (204 in ")
               or line.startswith("test refunds: delivered (200 in ") for line in lines)
    assert not any("lisbon-mail" in line and line.startswith("test ") for line in lines)
    assert "Apply complete: 3 created." in out

    # test_on_apply in the config fires without --test; only what changed is fired
    write(cfg, receivers, orders={"url": receivers["wrong"].url, "test_on_apply": True},
          refunds={"test_on_apply": True})
    code, out, err = run("apply", "-f", str(cfg), "--auto-approve", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert [t["name"] for t in data["tests"]] == ["orders"]
    assert data["tests"][0]["delivered"] is False and data["ok"] is False
    assert data["tests"][0]["message"].startswith("NOT delivered: ")
    assert "test orders: NOT delivered: " in err
    assert "1 of 1 test-fires NOT delivered: orders." in err

    code, out, _ = run("apply", "-f", str(cfg), "--auto-approve", "--format", "json")
    assert code == 0 and json.loads(out)["tests"] == []  # nothing changed: nothing fired


def test_emit_then_deliveries_and_show(cfg: Path, receivers: dict[str, ListenReceiver],
                                       run: Run) -> None:
    write(cfg, receivers)
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0

    code, out, _ = run("emit", "-f", str(cfg), "--terminal", "10001", "--type", "mbway",
                       "--amount", "12.50", "--currency", "EUR", "--method", "MBWAY")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("Notification ")
    assert "(MB WAY purchase (MBWAY/PURS), Success, 12.50 EUR, token MobilePhone" in first
    names = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]
             if line.startswith("  ")}
    # lisbon-mail covers LIS-01 (terminal 10001) too: its e-mail goes to the outbox
    assert names == {"orders": "delivered", "refunds": "delivered", "lisbon-mail": "delivered"}
    assert "  MB WAY purchase (MBWAY/PURS)  Success  12.50 EUR  " in receivers["sibs"].out[0]

    code, out, _ = run("emit", "-f", str(cfg), "--terminal", "20001", "--type", "xpay")
    assert code == 0 and "  orders  delivered" in out and "refunds" not in out

    code, out, _ = run("deliveries", "orders", "-f", str(cfg))
    rows = [r for r in out.splitlines() if not r.startswith(" ")]  # attempts are indented
    attempts = [r.strip() for r in out.splitlines() if r.startswith("    #")]
    assert code == 0 and rows[0].split()[:4] == ["ID", "CREATED", "TYPE", "STATUS"]
    assert "xpay" in rows[1] and "mbway" in rows[2] and len(rows) == 3  # newest first
    assert all("delivered" in r and " 200" in r for r in rows[1:])
    assert len(attempts) == 2 and all("HTTP 200" in a and "delivered" in a for a in attempts)
    code, out, _ = run("deliveries", "orders", "-f", str(cfg), "--format", "json",
                       "--limit", "1")
    log = json.loads(out)
    assert code == 0 and len(log) == 1 and log[0]["notification_type"] == "xpay"
    assert log[0]["status"] == "delivered" and log[0]["last_status_code"] == 200

    code, out, _ = run("show", "orders", "-f", str(cfg))
    assert code == 0 and "Recent deliveries (newest first):" in out
    assert "xpay  delivered  HTTP 200" in out
    code, out, err = run("deliveries", "nope", "-f", str(cfg))
    assert code == 1 and "no webhook named 'nope'" in err
    code, _, err = run("emit", "-f", str(cfg), "--terminal", "10001", "--type", "mbway",
                       "--amount", "lots")
    assert code == 1 and "--amount must be a non-negative number" in err

"""Scenarios from the command line, on the embedded default: `emit --list-scenarios`,
`emit --scenario`, `test --scenario`, their refusals (exit 1, "did you mean"), and what
`webhooks listen` prints for every scenario (method and paymentType, status, amount,
the MULTIBANCO reference, the token masked)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from contract import catalogue, kinds
from contract.catalogue import SCENARIO_NAMES, SCENARIOS
from tests.support.cli import Run
from tests.support.receivers import ListenReceiver
from tests.support.secrets import SIBS_SECRET, WHSEC


@pytest.fixture
def listeners() -> Iterator[dict[str, ListenReceiver]]:
    started = {"sibs": ListenReceiver(SIBS_SECRET, "sibs"),
               "std": ListenReceiver(WHSEC, "standard-webhooks")}
    yield started
    for listener in started.values():
        listener.close()


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        listeners: dict[str, ListenReceiver], run: Run) -> Path:
    monkeypatch.setenv("SIBS_SECRET", SIBS_SECRET)
    monkeypatch.setenv("STD_SECRET", WHSEC)
    path = tmp_path / "webhooks.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "owner": "payments-team", "defaults": {"application": "merchant"},
        "webhooks": {
            "everything": {"type": "url", "url": listeners["sibs"].url,
                           "notifications": list(catalogue.CODES),
                           "secret": "${env:SIBS_SECRET}"},
            "standard": {"type": "url", "url": listeners["std"].url,
                         "format": "standard-webhooks", "notifications": list(catalogue.CODES),
                         "secret": "${env:STD_SECRET}"},
            "only-mbway": {"type": "url", "url": listeners["sibs"].url,
                           "application": "terminal:20001",  # not the emits' 10001
                           "notifications": ["mbway"], "secret": "${env:SIBS_SECRET}"},
        }}, sort_keys=False))
    assert run("apply", "-f", str(path), "--auto-approve")[0] == 0
    return path


def test_list_scenarios_needs_no_config_or_backoffice(run: Run, tmp_path: Path) -> None:
    code, out, err = run("emit", "--list-scenarios", "-f", str(tmp_path / "absent.yaml"))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["SCENARIO", "TYPE", "DESCRIPTION"]
    for name, scenario in SCENARIOS.items():
        line = next(line for line in lines if line.split()[0] == name)
        assert scenario.type.code in line.split() and scenario.variant.description in line
    assert "mbway-purchase *" in out and "multibanco-reference-generation *" not in out
    code, out, _ = run("emit", "--list-scenarios", "--format", "json")
    listed = json.loads(out)
    assert code == 0 and [s["scenario"] for s in listed] == list(SCENARIO_NAMES)
    assert listed[0] == {"scenario": "mbway-purchase", "type": "mbway",
                         "description": SCENARIOS["mbway-purchase"].variant.description}


def test_listen_shows_every_scenario_readably(cfg: Path, run: Run,
                                              listeners: dict[str, ListenReceiver]) -> None:
    sent = {}
    for name in SCENARIO_NAMES:
        code, out, err = run("emit", "-f", str(cfg), "--terminal", "10001", "--scenario", name,
                             "--format", "json")
        assert code == 0, err
        result = json.loads(out)
        assert result["scenario"] == name
        assert {d["status"] for d in result["deliveries"]} == {"delivered"}
        sent[result["notification"]["notificationID"]] = result["notification"]
    for listener in listeners.values():
        headers = [line for line in listener.out if not line.startswith(("{", " ", "}"))]
        assert len(headers) == len(SCENARIO_NAMES) and listener.err == []
        for line, notification in zip(headers, sent.values(), strict=True):
            method, ptype = notification["paymentMethod"], notification["paymentType"]
            money = f"{notification['amount']['value']:.2f} EUR"
            assert f"{kinds.label(notification)} ({method}/{ptype})  " \
                   f"{notification['paymentStatus']}  {money}" in line
            assert line.endswith(f"terminal 10001  id {notification['notificationID']}")
            reference = notification.get("paymentReference")
            if reference:
                assert f"reference {reference['entity']}/{reference['reference']} " \
                       f"({reference['status']}" in line
            token = notification.get("token")
            if token:
                assert f"token {token['tokenType']} {kinds.mask(token['value'])}" in line
                assert token["value"] not in listener.printed  # masked, in the JSON too
            if notification.get("mbwayMandate"):
                assert f"mandate {notification['mbwayMandate']['mandateIdentification']}" \
                       in line
    # the reference generated is the one paid (the paid one was emitted before any
    # generation, so it made its own; a second one follows the generation)
    code, out, _ = run("emit", "-f", str(cfg), "--terminal", "10001", "--scenario",
                       "multibanco-reference-paid", "--format", "json")
    paid = json.loads(out)["notification"]["paymentReference"]
    generated = next(n["paymentReference"] for n in sent.values()
                     if n.get("paymentReference", {}).get("status") == "UNPAID")
    assert (paid["entity"], paid["reference"]) == (generated["entity"], generated["reference"])
    assert f"reference {paid['entity']}/{paid['reference']} (PAID" in listeners["sibs"].printed


def test_test_fires_a_scenario(cfg: Path, run: Run,
                               listeners: dict[str, ListenReceiver]) -> None:
    code, out, err = run("test", "everything", "-f", str(cfg), "--scenario",
                         "mbway-purchase-declined")
    assert code == 0, err
    assert "Notification sent (scenario mbway-purchase-declined, type mbway):" in out
    assert '"paymentStatus": "Declined"' in out and '"statusCode": "01.106.0004"' in out
    assert "MB WAY purchase (MBWAY/PURS)  Declined  10.00 EUR" in listeners["sibs"].out[0]
    assert listeners["sibs"].out[0].endswith("(test)")
    code, out, _ = run("test", "standard", "-f", str(cfg), "--scenario", "cit-recurring",
                       "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["scenario"] == "cit-recurring" and data["delivered"]
    assert data["notification"]["merchantInitiatedTransaction"]["type"] == "RCRR"


@pytest.mark.parametrize(("args", "message"), [
    (("emit", "--terminal", "10001", "--scenario", "mbway-purchse"),
     "--scenario: 'mbway-purchse' is not a scenario; did you mean 'mbway-purchase'?"),
    (("emit", "--terminal", "10001", "--type", "xpay", "--scenario", "cit-ucof"),
     "belongs to notification type 'key-enter-token', not 'xpay'"),
    (("emit", "--terminal", "10001"), "give --type TYPE or --scenario NAME"),
    (("test", "everything", "--scenario", "xpay-purchse"), "did you mean 'xpay-purchase'?"),
    (("test", "only-mbway", "--scenario", "xpay-purchase"),
     "'xpay' is not one this webhook subscribes to"),
    (("test", "everything", "--notification", "mbway", "--scenario", "xpay-purchase"),
     "belongs to notification type 'xpay', not 'mbway'"),
])
def test_bad_scenarios_exit_1_with_a_reason(cfg: Path, run: Run, args: tuple[str, ...],
                                            message: str,
                                            listeners: dict[str, ListenReceiver]) -> None:
    code, out, err = run(*args, "-f", str(cfg))
    assert code == 1 and out == "" and message in err
    assert "Internal error" not in err and "Traceback" not in err
    assert listeners["sibs"].out == []  # nothing was sent


@pytest.mark.parametrize("hostile", ["\u202emb-way", "\x1b[2J", "\x00", "a" * 10_000,
                                     "\udcff\udcfe", "mbway-purchase\n"])
def test_hostile_scenario_names_are_refused_plainly(cfg: Path, run: Run, hostile: str) -> None:
    for command in (("emit", "--terminal", "10001"), ("test", "everything")):
        code, out, err = run(*command, "--scenario", hostile, "-f", str(cfg))
        assert code == 1 and out == "" and "is not a scenario" in err
        assert "\u202e" not in err and "\x1b" not in err and "\x00" not in err
        assert len(err) < 2_000 and "Internal error" not in err


def test_emit_without_a_terminal_is_a_usage_error(run: Run) -> None:
    code, _, err = run("emit", "--scenario", "mbway-purchase")
    assert code == 2 and "Missing option '--terminal'" in err

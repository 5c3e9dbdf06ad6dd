"""What a delivered test-fire shows, said honestly per format.

A sibs receiver must answer with the notificationID it decrypted, so a delivered sibs
test-fire proves the receiver holds the secret. A Standard Webhooks receiver answers any
2xx and echoes nothing, so a delivered one proves only that something answered: `test`
and `apply --test` say which, in text and JSON, instead of "proves the secret" for both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from contract import formats
from reconciler.testfire import PROOF
from tests.support.cli import Run
from tests.support.receivers import ListenReceiver
from tests.support.secrets import SIBS_SECRET, WHSEC

SIBS_PROOF = "the receiver decrypted it and echoed its notificationID: it holds the secret"
STD_NO_PROOF = ("any 2xx counts: this does not show that the receiver holds the secret or "
                "checks the signature")


@pytest.fixture
def receivers() -> Iterator[dict[str, ListenReceiver]]:
    started = {"sibs": ListenReceiver(SIBS_SECRET, "sibs"),
               "std": ListenReceiver(WHSEC, "standard-webhooks")}
    yield started
    for receiver in started.values():
        receiver.close()


def test_every_format_says_what_its_acknowledgement_proves() -> None:
    assert set(PROOF) == set(formats.NAMES)
    assert [name for name, (proves, _) in PROOF.items() if proves] == ["sibs"]


def test_what_a_delivered_test_fire_proves_depends_on_the_format(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        receivers: dict[str, ListenReceiver], run: Run) -> None:
    monkeypatch.setenv("SIBS_SECRET", SIBS_SECRET)
    monkeypatch.setenv("STD_SECRET", WHSEC)
    cfg = tmp_path / "webhooks.yaml"
    cfg.write_text(yaml.safe_dump({
        "version": 1, "owner": "payments-team", "defaults": {"application": "merchant"},
        "webhooks": {
            "orders": {"type": "url", "url": receivers["sibs"].url,
                       "notifications": ["mbway"], "secret": "${env:SIBS_SECRET}"},
            "refunds": {"type": "url", "url": receivers["std"].url,
                        "format": "standard-webhooks", "notifications": ["mbway"],
                        "secret": "${env:STD_SECRET}"}}}, sort_keys=False))
    code, out, err = run("apply", "-f", str(cfg), "--auto-approve", "--test")
    assert code == 0, out + err
    assert "test orders: delivered (200 in " in out and f"; {SIBS_PROOF}\n" in out
    assert "test refunds: delivered (204 in " in out and f"; {STD_NO_PROOF}\n" in out
    assert "proves the secret" not in out

    code, out, _ = run("test", "orders", "-f", str(cfg))
    assert code == 0 and out.endswith(f"\nSecret: {SIBS_PROOF}.\n")
    code, out, _ = run("test", "refunds", "-f", str(cfg))
    assert code == 0 and out.endswith(f"\nSecret: {STD_NO_PROOF}.\n")
    for name, proves in (("orders", True), ("refunds", False)):
        code, out, _ = run("test", name, "-f", str(cfg), "--format", "json")
        assert code == 0 and json.loads(out)["proves_secret"] is proves

    cfg.write_text(cfg.read_text().replace("notifications:\n    - mbway\n    secret",
                                           "notifications:\n    - xpay\n    secret"))
    code, out, err = run("apply", "-f", str(cfg), "--auto-approve", "--test", "--format",
                         "json")
    assert code == 0, out + err
    tests = {t["name"]: t for t in json.loads(out)["tests"]}
    assert tests["orders"]["proves_secret"] is True
    assert tests["refunds"]["proves_secret"] is False and tests["refunds"]["delivered"]

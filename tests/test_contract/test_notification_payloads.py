"""Every scenario's notification against a JSON Schema of the gateway's documented
structure (tests/test_contract/data/sibs_notification.schema.json, written from the
documentation, not from the builder), and the catalogue's scenarios themselves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from contract import catalogue, kinds, payloads
from contract.catalogue import SCENARIO_NAMES, SCENARIOS
from contract.formats import standard_webhooks

ARCHITECTURE = Path(__file__).parents[2] / "docs" / "ARCHITECTURE.md"
SCHEMA = json.loads((Path(__file__).parent / "data" / "sibs_notification.schema.json")
                    .read_text(encoding="utf-8"))
WHEN = datetime(2026, 11, 28, 10, 48, 44, 127000, tzinfo=UTC)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

# The examples the documentation gives, each a scenario's `documented`.
DOCUMENTED = (
    "MB WAY Purchase with Alias", "MB WAY Purchase with Alias - Declined",
    "MB WAY Authorised Payment Creation", "MB WAY Authorised Payment Purchase after Creation",
    "Cancel MB WAY Authorised Payment", "Cancel MB WAY Authorised Payment - Decline",
    "Static QR Code Purchase", "MULTIBANCO Reference Generation",
    'MULTIBANCO Reference "Paid"', "Card Purchase", "Token Generation", "Token Purchase",
    "Merchant Initiated Transaction (MIT) with Type UCOF",
    "Merchant Initiated Transaction (MIT) with Type Recurring",
    "Cardholder Initiated Transaction (CIT) with Type UCOF",
    "Cardholder Initiated Transaction (CIT) with Type Recurring",
)


def validator() -> jsonschema.Draft202012Validator:
    checker = jsonschema.FormatChecker()
    checker.checks("date-time")(lambda text: not isinstance(text, str)
                                or _RFC3339.fullmatch(text) is not None)
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=checker)


def problems(notification: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator().iter_errors(notification)]


def build(name: str, **kw: Any) -> dict[str, Any]:
    return payloads.build(SCENARIOS[name].variant, terminal="10001", merchant_name="Demo Shop",
                          when=WHEN, **kw)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_scenario_has_the_documented_structure(name: str) -> None:
    real, test = build(name), build(name, test=True)
    assert problems(real) == [] and problems(test) == []
    # the gateway sends no "type": receivers tell the kind from method and paymentType
    assert "type" not in real and "test" not in real
    assert test["test"] is True and {k: v for k, v in test.items() if k != "test"}.keys() \
        == real.keys()
    assert list(real)[:8] == ["returnStatus", "paymentStatus", "paymentMethod",
                              "transactionID", "transactionDateTime", "amount", "merchant",
                              "paymentType"]
    assert list(real)[-1] == "notificationID"
    assert real["merchant"]["terminalId"] == "10001"
    assert real["merchant"]["merchantName"] == "Demo Shop"
    assert kinds.kind(real) == standard_webhooks.envelope(real, 0)["type"]
    assert real["notificationID"] != build(name)["notificationID"]  # fresh every time


def test_the_schema_refuses_what_the_documentation_rules_out() -> None:
    good = build("mbway-purchase")
    assert problems({k: v for k, v in good.items() if k != "paymentType"})
    assert problems({k: v for k, v in good.items() if k != "token"})  # MB WAY has its alias
    assert problems({**good, "paymentStatus": "Paid"})
    assert problems({**good, "transactionDateTime": "yesterday"})
    assert problems({**good, "returnStatus": {"statusCode": "E0001", "statusMsg": "Success"}})
    assert problems({**good, "token": {"tokenType": "MobilePhone", "value": "912345678"}})
    generated = build("multibanco-reference-generation")
    assert problems({k: v for k, v in generated.items() if k != "paymentReference"})
    assert problems({**generated, "paymentStatus": "Success"})  # Success means PAID
    mit = build("mit-recurring")
    assert problems({**mit, "merchantInitiatedTransaction": {"type": "RCRR"}})  # no schedule
    assert problems({**build("mbway-authorised-cancel"), "mbwayMandate": {
        "mandateIdentification": "1"}})  # a cancellation says its action


def test_every_type_has_its_scenarios_and_every_documented_example_one() -> None:
    assert len(SCENARIOS) == sum(len(t.variants) for t in catalogue.NOTIFICATIONS)
    for entry in catalogue.NOTIFICATIONS:
        assert entry.variants, entry.code
        assert entry.payment_method == entry.variants[0].payment_method
        assert catalogue.default_scenario(entry.code).variant is entry.variants[0]
        for variant in entry.variants:
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", variant.name)
            if variant.follows is not None:  # a follower continues one of its own type
                assert SCENARIOS[variant.follows].type is entry
    documented = sorted(s.variant.documented for s in SCENARIOS.values()
                        if s.variant.documented)
    assert documented == sorted(DOCUMENTED)
    assert SCENARIOS["xpay-purchase"].variant.documented == ""  # no example exists
    # the default of each type is a successful one
    assert {catalogue.default_scenario(c).variant.payment_status for c in catalogue.CODES} \
        == {"Success"}


def test_followers_continue_the_notification_they_follow() -> None:
    generated = build("multibanco-reference-generation", amount={"value": 42.1,
                                                                 "currency": "EUR"})
    paid = build("multibanco-reference-paid", previous=generated)
    for key in ("reference", "entity", "amount", "expireDate"):
        assert paid["paymentReference"][key] == generated["paymentReference"][key]
    assert (generated["paymentReference"]["status"], paid["paymentReference"]["status"]) \
        == ("UNPAID", "PAID")
    assert paid["transactionID"] == generated["transactionID"]
    assert paid["merchant"]["transactionId"] == generated["merchant"]["transactionId"]
    assert paid["amount"] == {"value": 42.1, "currency": "EUR"}  # paid in full
    assert paid["notificationID"] != generated["notificationID"]

    created = build("mbway-authorised-creation")
    for name in ("mbway-authorised-purchase", "mbway-authorised-cancel",
                 "mbway-authorised-cancel-declined"):
        later = build(name, previous=created)
        assert later["mbwayMandate"]["mandateIdentification"] == \
            created["mbwayMandate"]["mandateIdentification"]
        assert later["token"] == created["token"]
        assert later["transactionID"] != created["transactionID"]
        assert payloads.continues(created, SCENARIOS["mbway-authorised-creation"].variant)
        assert not payloads.continues(later, SCENARIOS["mbway-authorised-creation"].variant)

    stored = build("token-generation")
    for name in ("token-purchase", "mit-ucof", "mit-recurring"):
        assert build(name, previous=stored)["token"] == stored["token"]
    # without one, a follower makes up what the first notification would have had
    alone = build("multibanco-reference-paid")
    assert problems(alone) == [] and alone["paymentReference"]["status"] == "PAID"


def test_overrides_keep_the_structure() -> None:
    declined = build("mbway-purchase", status="Declined")
    # the operation went through (000); the payment status says how it ended
    assert declined["paymentStatus"] == "Declined" and declined["returnStatus"] == {
        "statusMsg": "Success", "statusCode": "000"}
    documented = build("mbway-purchase-declined")
    assert documented["returnStatus"] == {"statusMsg": "Declined", "statusCode": "01.106.0004"}
    custom = build("xpay-purchase", amount={"value": 12.5, "currency": "USD"}, method="CARD")
    assert custom["amount"] == {"value": 12.5, "currency": "USD"}
    assert custom["paymentMethod"] == "CARD" and problems(custom) == []
    assert build("token-generation")["amount"]["value"] == 0.0  # no money moves


def test_kinds_masks_and_facts() -> None:
    assert [kinds.kind(build(n)) for n in ("mbway-purchase", "mbway-authorised-creation",
                                          "multibanco-reference-paid", "mit-ucof")] == [
        "mbway.purchase", "mbway.authorisation", "multibanco.reference",
        "card.merchant-initiated"]
    assert kinds.kind({"paymentMethod": "SEPA DD", "paymentType": None}) == "sepa-dd.unknown"
    legacy = {"type": "mb-reference", "paymentMethod": "REFERENCE", "test": False}  # stored
    assert kinds.kind(legacy) == "multibanco.unknown"  # by an earlier version
    assert kinds.label(legacy) == "MB Reference notification"
    assert kinds.mask("351#912345678") == "351#9*****78"
    assert kinds.mask("351#12") == "351#*****"
    assert kinds.mask("tok_4f8a9c2e7b") == "to*****7b" and kinds.mask("short") == "*****"
    assert kinds.mask(None) == "*****"
    generated = build("multibanco-reference-generation")
    ref = generated["paymentReference"]
    assert f"reference {ref['entity']}/{ref['reference']} (UNPAID, expires " in \
        ", ".join(kinds.facts(generated))
    masked = kinds.masked(build("mbway-authorised-creation"))
    assert masked["token"]["value"].count("*") == 5
    assert masked["mbwayMandate"]["aliasMBWAY"].count("*") == 5


def test_scenario_problems_say_what_is_close() -> None:
    assert catalogue.scenario_problem("mbway-purchase") is None
    assert "did you mean 'mbway-purchase'" in str(catalogue.scenario_problem("mbway-purchse"))
    nothing_close = str(catalogue.scenario_problem("\u202e\x00" * 100))
    assert "did you mean" not in nothing_close and "\x00" not in nothing_close
    assert "\u202e" not in nothing_close and len(nothing_close) < 1000
    assert "belongs to notification type 'mbway', not 'xpay'" in str(
        catalogue.scenario_problem("mbway-purchase", "xpay"))


def test_the_architecture_documents_every_scenario_as_the_catalogue_has_it() -> None:
    row = r"^\| `([a-z0-9-]+)`( \(default\))? \| `([a-z-]+)` \| (\w+) / (\w+) \| (.+) \|$"
    rows = re.findall(row, ARCHITECTURE.read_text(encoding="utf-8"), re.M)
    documented = [(name, bool(default), code, method, ptype) for name, default, code, method,
                  ptype, _ in rows]
    assert documented == [
        (s.name, catalogue.default_scenario(s.type.code).name == s.name, s.type.code,
         s.variant.payment_method, s.variant.payment_type) for s in SCENARIOS.values()]
    for (name, *_, example) in rows:
        assert SCENARIOS[name].variant.documented in example

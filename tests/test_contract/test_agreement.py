"""Everything derived from the contract agrees with it: the config's JSON Schema, the
API's types, the CLI's choices. One test per artefact, each against the contract."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import click
import pytest

from backoffice.http import bodies as models
from contract import catalogue, formats, rules, urls
from reconciler.cli import cli

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "webhooks.schema.json")
                    .read_text(encoding="utf-8"))
DEFS = SCHEMA["$defs"]


def anchored(pattern: str) -> str:
    return f"^({pattern})(?!\\n)$"


def test_schema_enums_are_the_contracts() -> None:
    assert DEFS["notifications"]["items"]["enum"] == list(catalogue.CODES)
    assert DEFS["format"]["enum"] == list(formats.NAMES)
    assert DEFS["webhook"]["properties"]["type"]["enum"] == list(rules.WEBHOOK_TYPES)


def test_schema_patterns_are_the_contracts() -> None:
    assert DEFS["application"]["pattern"] == anchored(rules.APPLICATION_PATTERN)
    for where in (DEFS["name"], SCHEMA["properties"]["owner"]):
        assert where["pattern"].replace("(?!\\n)$", "") == f"^{rules.NAME_PATTERN}"


def test_schema_lengths_are_the_contracts() -> None:
    props = DEFS["webhook"]["properties"]
    assert props["description"]["maxLength"] == rules.MAX_DESCRIPTION
    assert props["email"]["maxLength"] == rules.MAX_EMAIL
    assert props["url"]["maxLength"] == urls.MAX_URL


def test_schema_describes_every_notification_type() -> None:
    described = DEFS["notifications"]["items"].get("description", "")
    for entry in catalogue.NOTIFICATIONS:
        assert entry.code in described and entry.label in described


def test_api_types_are_the_contracts() -> None:
    assert typing.get_args(models.NotificationCode) == catalogue.CODES
    assert typing.get_args(models.DeliveryFormat) == formats.NAMES
    assert typing.get_args(models.WebhookType) == rules.WEBHOOK_TYPES
    assert typing.get_args(models.PaymentStatus) == catalogue.PAYMENT_STATUSES


def _choices(command: str, option: str) -> tuple[str, ...]:
    group = cli
    found = group.commands[command] if isinstance(group, click.Group) else None
    assert found is not None
    param = next(p for p in found.params if p.name == option)
    assert isinstance(param.type, click.Choice)
    return tuple(str(c) for c in param.type.choices)


def test_cli_choices_are_the_contracts() -> None:
    assert _choices("listen", "fmt") == formats.NAMES
    assert _choices("list", "webhook_type") == rules.WEBHOOK_TYPES


@pytest.mark.parametrize("pattern", [rules.NAME_PATTERN, rules.CODE_PATTERN,
                                     rules.APPLICATION_PATTERN])
def test_patterns_compile_in_both_engines(pattern: str) -> None:
    import jsonschema_rs

    re.compile(pattern)
    jsonschema_rs.validator_for({"type": "string", "pattern": anchored(pattern)})


def test_the_backoffice_lists_the_catalogue_in_order(tmp_path: Path) -> None:
    from backoffice import Backoffice

    with Backoffice.open(f"sqlite:///{tmp_path / 'b.db'}") as office:
        listed = office.merchants.catalog("demo")["notification_types"]
    assert [(t["code"], t["label"]) for t in listed] == list(catalogue.NOTIFICATION_TYPES.items())


# --- strict inputs: validate and the backoffice refuse the same values ----------------------

HOSTILE_CHARS = ["\x00", "\x01", "\r", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u200f",
                 "\u061c", "\t", "\n"]
TEXT_FIELDS = {  # field -> (a good value, where the character goes)
    "url": "https://hooks.shop.example/orders",
    "email": "ops@shop.example",
    "support_email": "support@shop.example",
    "description": "Order service",
}


def _refused_by_validate(tmp_path: Path, fields: dict[str, str], *,
                         private_targets: bool | None = None) -> bool:
    from reconciler.config import read_config
    from reconciler.model import Catalog

    kind = "email" if "email" in fields else "url"
    hook = {"type": kind, "application": "merchant", "notifications": ["mbway"],
            **({"url": "https://hooks.shop.example/x"} if kind == "url" else {}), **fields}
    path = tmp_path / "webhooks.yaml"
    path.write_text(json.dumps({"version": 1, "owner": "agreement",
                                "webhooks": {"hook": hook}}), encoding="utf-8")
    catalog = Catalog(dict(catalogue.NOTIFICATION_TYPES), frozenset(), {}, {},
                      private_targets=private_targets)
    return read_config(path, secrets="optional", catalog=catalog).config is None


def _refused_by_the_backoffice(tmp_path: Path, fields: dict[str, str], *,
                               private_targets: bool = False) -> bool:
    from backoffice import Backoffice
    from backoffice.errors import Invalid

    kind = "email" if "email" in fields else "url"
    body = {"name": "hook", "type": kind, "application": "merchant",
            "notifications": ["mbway"],
            **({"url": "https://hooks.shop.example/x"} if kind == "url" else {}), **fields}
    with Backoffice.open(f"sqlite:///{tmp_path / 'b.db'}",
                         allow_private_targets=private_targets) as office:
        try:
            office.webhooks.create_webhook("demo", body)
        except Invalid:
            return True
        office.webhooks.delete_webhook("demo", office.webhooks.find_webhook_by_name(
            "demo", "hook")["id"])
        return False


@pytest.mark.parametrize("field", sorted(TEXT_FIELDS))
@pytest.mark.parametrize("char", HOSTILE_CHARS, ids=[f"U+{ord(c):04X}" for c in HOSTILE_CHARS])
def test_validate_and_the_backoffice_refuse_the_same_characters(
        tmp_path: Path, field: str, char: str) -> None:
    good = TEXT_FIELDS[field]
    value = good[:8] + char + good[8:]
    by_validate = _refused_by_validate(tmp_path, {field: value})
    assert by_validate == _refused_by_the_backoffice(tmp_path, {field: value})
    # One rule: only a description (free text over lines) takes tab and line feed.
    assert by_validate is not (field == "description" and char in "\t\n")


@pytest.mark.parametrize("private_targets", [False, True])
@pytest.mark.parametrize("url", ["http://127.0.0.1:9999/hooks", "https://169.254.169.254/x",
                                 "https://2130706433/", "https://[::ffff:10.0.0.1]/",
                                 "https://hooks.shop.example/x", "http://localhost:9/"])
def test_online_validate_applies_the_backoffices_policy_on_private_targets(
        tmp_path: Path, url: str, private_targets: bool) -> None:
    from contract.addresses import literal_target

    refused = _refused_by_the_backoffice(tmp_path, {"url": url},
                                         private_targets=private_targets)
    assert refused == _refused_by_validate(tmp_path, {"url": url},
                                           private_targets=private_targets)
    assert refused is (not private_targets and literal_target(url) is not None)
    # Offline (no policy known) it is only a warning.
    assert not _refused_by_validate(tmp_path, {"url": url}, private_targets=None)

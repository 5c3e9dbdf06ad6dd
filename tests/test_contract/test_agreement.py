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

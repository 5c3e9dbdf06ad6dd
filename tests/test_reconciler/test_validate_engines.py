"""The Rust validator decides valid/invalid on the happy path; jsonschema explains.

They must agree on every document, or a file could pass that jsonschema would refuse.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from reconciler.config import quick_validator, validator
from tests.test_reconciler.test_config import config_shaped_values


def agree(doc: Any) -> None:
    assert quick_validator().is_valid(doc) == (next(validator().iter_errors(doc), None) is None)


@settings(max_examples=400, deadline=None)
@given(config_shaped_values())
def test_both_engines_agree_on_config_shaped_documents(doc: dict[str, Any]) -> None:
    agree(doc)


def test_both_engines_agree_on_edge_cases() -> None:
    base = {"version": 1, "owner": "team", "webhooks": {}}
    hook = {"type": "url", "url": "https://x.example/", "application": "merchant",
            "notifications": ["mbway"]}
    cases: list[Any] = [
        base, {**base, "version": 2}, {**base, "owner": "Team"}, {**base, "owner": "a" * 64},
        {**base, "webhooks": {"ok": hook}},
        {**base, "webhooks": {"ok": {**hook, "notifications": []}}},
        {**base, "webhooks": {"ok": {**hook, "notifications": ["mbway", "mbway"]}}},
        {**base, "webhooks": {"ok": {**hook, "application": "store:LIS 01"}}},
        {**base, "webhooks": {"ok": {**hook, "application": "terminal:10001\n"}}},
        {**base, "webhooks": {"ok": {**hook, "email": "a@b.example"}}},
        {**base, "webhooks": {"Bad": hook}}, {**base, "webhooks": {"ok": {**hook, "x": 1}}},
        {**base, "webhooks": {"ok": {**hook, "enabled": 1}}},
        {**base, "webhooks": {"ok": {**hook, "type": "email", "email": "a@b.example",
                                     "url": None}}},
        [], "text", None, 1.5,
    ]
    for doc in cases:
        agree(doc)

"""The config's JSON Schema: loading it, the two validators, and explaining its errors.

Every violation becomes a ``Finding`` (a path into the document and a message naming
the field); the checks a schema cannot make are in ``reconciler.config.checks``. No
message ever carries a secret value.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError

import reconciler
from contract import formats
from contract.catalogue import NOTIFICATION_TYPES
from contract.rules import NAME_RULE, WEBHOOK_TYPES, is_name
from contract.secrets import GRACE_RULE
from contract.urls import url_problem
from reconciler.config.findings import Finding, did_you_mean
from reconciler.config.yamlnodes import YamlPath
from reconciler.model import Catalog

SCHEMA_PATH = Path(reconciler.__file__).parent / "schemas" / "webhooks.schema.json"


_REQUIRED_HINTS = {
    "version": " (write version: 1)",
    "owner": " (the team that owns these webhooks, e.g. owner: payments-team)",
    "webhooks": " (write `webhooks: {}` for none)",
    "type": " (url or email)",
}
_REFUSED = "not allowed for a webhook of type"


@functools.cache
def schema() -> dict[str, Any]:
    """The config's JSON Schema (``schemas/webhooks.schema.json``)."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def validator() -> Draft202012Validator:
    """The compiled schema validator, built once per process.

    It validates a copy of the schema with its local ``$ref``s inlined: jsonschema
    resolves a ``$ref`` on every use, which made validating 10,000 webhooks 40% slower.
    """
    full = schema()
    inlined = _inline_refs({k: v for k, v in full.items() if k != "$defs"}, full["$defs"])
    return Draft202012Validator(inlined)


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:  # `#/$defs/<name>[/...]`; siblings (descriptions) override the target's
        target: Any = defs
        for part in node["$ref"].removeprefix("#/$defs/").split("/"):
            target = target[part]
        target = _inline_refs(target, defs)  # a target may refer on (overrides -> webhook)
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return {key: _inline_refs(value, defs) for key, value in node.items()}


# --- the schema ---------------------------------------------------------------------------


@functools.cache
def quick_validator() -> jsonschema_rs.Draft202012Validator:
    """A compiled Rust validator of the same schema, to tell valid from invalid fast.

    It only answers yes or no; every message comes from ``validator()``. The two must agree
    on what is valid (the property test ``test_both_engines_agree_on_config_shaped_documents``
    holds them to it): this one decides whether a 10,000-webhook file needs explaining at
    all, in milliseconds instead of the half second jsonschema takes.
    """
    return jsonschema_rs.Draft202012Validator(schema())


def schema_findings(doc: object, catalog: Catalog | None = None) -> list[Finding]:
    """Every schema violation of ``doc``, as findings with messages for people."""
    if quick_validator().is_valid(doc):
        return []
    findings: list[Finding] = []
    for error in validator().iter_errors(doc):
        findings.extend(_explain(error, doc, catalog))
    # A field its webhook type refuses needs no other message.
    refused = {f.path for f in findings if f.message.startswith(_REFUSED)}
    return [
        f
        for f in dict.fromkeys(findings)
        if f.path not in refused or f.message.startswith(_REFUSED)
    ]


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    return "a list" if isinstance(value, list) else "a mapping"


_TYPE_NAMES = {
    "string": "text",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
    "integer": "an integer",
}


def _explain(error: ValidationError, doc: object, catalog: Catalog | None) -> Iterator[Finding]:
    path: YamlPath = tuple(error.absolute_path)
    keyword = error.validator
    if {"then", "else"} & set(error.absolute_schema_path):
        webhook = _get(doc, path[:2])
        kind = webhook.get("type") if isinstance(webhook, dict) else None
        if not isinstance(kind, str) or kind not in _forbidden_by_type():
            return  # without a valid type, the type's own error says it all
    value = error.instance
    field = path[-1] if path else None
    secret = "secret" in path
    if keyword is None:  # a `false` schema: fields the webhook's type does not take
        yield from _explain_forbidden(doc, path)
    elif keyword == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        where = "defaults take" if path == ("defaults",) else "allowed:"
        for key in value if isinstance(value, dict) else ():
            if key in allowed:
                continue
            hint = did_you_mean(key, allowed) or f" ({where} {', '.join(allowed)})"
            if path == () and isinstance(value.get(key), dict) and "type" in value[key]:
                hint = " (webhooks go under `webhooks:`)"
            yield Finding((*path, key), f"unknown key {key!r}{hint}", at_key=True)
    elif keyword == "required":
        for key in error.validator_value:
            if isinstance(value, dict) and key not in value:
                need = _REQUIRED_HINTS.get(key, f" (type {value.get('type')} needs it)")
                yield Finding(path, f"missing required key {key!r}{need}", at_key=True)
    elif keyword == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        want = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        got = "something else" if secret else _describe(value)
        hint = ""
        if path == ("webhooks",) and value is None:
            hint = " (write `webhooks: {}` for none)"
        elif "propertyNames" in error.absolute_schema_path:
            path, got = (*path, str(value)), f"a key of type {type(value).__name__}"
        yield Finding(path, f"expected {want}, got {got}{hint}")
    elif keyword == "enum":
        yield from _explain_enum(path, value, catalog)
    elif keyword == "const":
        yield Finding(path, f"unsupported version {value!r}; this tool reads version 1")
    elif keyword == "pattern":
        yield _explain_pattern(error, path, value)
    elif keyword == "minItems":
        if field == "renamed_from":
            yield Finding(path, "must list at least one old name (or leave renamed_from out)")
        else:
            yield Finding(path, "must list at least one notification type")
    elif keyword == "maxItems":
        yield Finding(path, f"lists more than {error.validator_value} names")
    elif keyword in ("minimum", "maximum") and field == "secret_grace":
        yield Finding(path, f"{value!r} seconds is out of range: {GRACE_RULE}")
    elif keyword == "uniqueItems":
        seen: list[object] = []  # items may be unhashable (a mapping in a list)
        for index, item in enumerate(value):
            if item in seen:
                shown = repr(item) if isinstance(item, str) else _describe(item)
                yield Finding((*path, index), f"{shown} is listed more than once")
            seen.append(item)
    elif keyword in ("minimum", "maximum"):
        bound = "at least" if keyword == "minimum" else "at most"
        yield Finding(path, f"must be {bound} {error.validator_value}, not {_describe(value)}")
    elif keyword == "minLength":
        yield Finding(path, "must not be empty")
    elif keyword == "maxLength":
        yield Finding(path, f"is longer than {error.validator_value} characters")
    else:  # pragma: no cover - every keyword the schema uses is explained above
        message = "is not valid" if secret else error.message
        yield Finding(path, f"{message} ({keyword}; field {field})")


@functools.cache
def _forbidden_by_type() -> dict[str, tuple[str, ...]]:
    """The fields each webhook type refuses, read off the schema's if/then/else."""
    webhook = schema()["$defs"]["webhook"]
    return {
        kind: tuple(k for k, v in webhook[branch]["properties"].items() if v is False)
        for kind, branch in (("url", "then"), ("email", "else"))
    }


def _explain_forbidden(doc: object, path: YamlPath) -> Iterator[Finding]:
    # jsonschema leaves the property out of the path of a `false` property schema
    webhook_path = path[:2]
    webhook = _get(doc, webhook_path)
    if not isinstance(webhook, dict):  # pragma: no cover - only webhooks have false schemas
        return
    kind = webhook.get("type")
    for key in _forbidden_by_type().get(str(kind), ()):
        if key in webhook:
            yield Finding((*webhook_path, key), f"{_REFUSED} {kind}", at_key=True)


def _explain_enum(path: YamlPath, value: object, catalog: Catalog | None) -> Iterator[Finding]:
    if not isinstance(value, str):
        what = {"type": " or ".join(WEBHOOK_TYPES), "format": " or ".join(formats.NAMES)}.get(
            str(path[-1]), "a notification type"
        )
        yield Finding(path, f"expected {what}, got {_describe(value)}")
        return
    if len(path) >= 2 and path[-2] == "notifications":
        known = catalog.notification_types if catalog is not None else NOTIFICATION_TYPES
        if value in known:
            return  # the backoffice catalogue is the authority; the schema's list may lag
        hint = did_you_mean(value, known) or f" (one of: {', '.join(known)})"
        yield Finding(path, f"{value!r} is not a notification type{hint}")
    elif path[-1:] == ("type",):
        yield Finding(
            path,
            f"{value!r} is not a webhook type (url or email)"
            f"{did_you_mean(value, WEBHOOK_TYPES)}",
        )
    else:
        yield Finding(
            path,
            f"{value!r} is not a delivery format ({' or '.join(formats.NAMES)})"
            f"{did_you_mean(value, formats.NAMES)}",
        )


def _explain_pattern(error: ValidationError, path: YamlPath, value: object) -> Finding:
    if "propertyNames" in error.absolute_schema_path:
        name = str(value)
        hint = f"; did you mean {name.lower()!r}?" if is_name(name.lower()) else ""
        what = "environment" if path == ("environments",) else "webhook"
        return Finding(
            (*path, name), f"invalid {what} name {name!r}: use {NAME_RULE}{hint}", at_key=True
        )
    field = path[-1] if path else ""
    if field == "owner":
        return Finding(path, f"invalid owner {value!r}: use {NAME_RULE}")
    if field == "url" and isinstance(value, str):  # never quoted: it may hold a password
        return Finding(path, url_problem(value) or "must be an absolute https:// URL")
    if field == "secret_grace":
        return Finding(path, f"{value!r} is not a duration: write seconds, or parts such as "
                             f"12h or 1d12h; {GRACE_RULE}")
    if len(path) >= 2 and path[-2] == "renamed_from":
        return Finding(path, f"invalid webhook name {value!r} in renamed_from: use {NAME_RULE}")
    if field == "secret":
        assert isinstance(value, str)
        what = (
            "must be exactly one ${env:NAME} or ${file:PATH} reference"
            if "${" in value
            else "a literal secret is not allowed"
        )
        return Finding(path, f"{what}: write secret: ${{env:NAME}} or ${{file:PATH}}")
    return Finding(
        path, f"{value!r} is not an application: write merchant, store:<code> or terminal:<id>"
    )


def _get(doc: object, path: YamlPath) -> object:
    for part in path:
        if isinstance(doc, dict) and isinstance(part, str):
            doc = doc.get(part)
        elif isinstance(doc, list) and isinstance(part, int) and part < len(doc):
            doc = doc[part]
        else:
            return None
    return doc

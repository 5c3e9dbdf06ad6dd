"""What makes a config valid: the JSON Schema, then the checks a schema cannot make.

Every check returns ``Finding``s (a path into the document and a message naming the
field); ``reconciler.config`` turns them into located ``Problem``s. No message ever
carries a secret value: secret findings name the secret's source, never its content.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import functools
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError

import reconciler
from reconciler.errors import Severity
from reconciler.model import NOTIFICATION_TYPES, Catalog
from reconciler.yamlload import YamlPath, format_path

SCHEMA_PATH = Path(reconciler.__file__).parent / "schemas" / "webhooks.schema.json"

WEBHOOK_FIELDS = (
    "type",
    "url",
    "email",
    "application",
    "notifications",
    "secret",
    "support_email",
    "format",
    "enabled",
    "description",
    "prevent_destroy",
    "test_on_apply",
)
DEFAULT_FIELDS = (
    "application",
    "notifications",
    "support_email",
    "format",
    "enabled",
    "test_on_apply",
)
URL_ONLY_FIELDS = ("url", "secret", "format", "test_on_apply")

_EMAIL = re.compile(r"[^\s@\"(),:;<>\[\]\\]+@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}\Z")
_URL_BAD_CHAR = re.compile(r"[\s\x00-\x1f\x7f]")
# https://host[:port][/path...] with a plain DNS host and a port below 10000: always fine.
_PLAIN_HTTPS_URL = re.compile(
    r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,4})?(?:[/?#][^\s\x00-\x1f\x7f]*)?\Z"
)
_REQUIRED_HINTS = {
    "version": " (write version: 1)",
    "owner": " (the team that owns these webhooks, e.g. owner: payments-team)",
    "webhooks": " (write `webhooks: {}` for none)",
    "type": " (url or email)",
}
_REFUSED = "not allowed for a webhook of type"
_LOOPBACK_NAMES = frozenset({"localhost"})
_NAME_RULE = (
    "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, "
    "at most 63 characters"
)


@dataclass(frozen=True)
class Finding:
    """One problem at a path of the document; ``at_key`` places it on the key, not the value."""

    path: YamlPath
    message: str
    severity: Severity = "error"
    at_key: bool = False

    @property
    def text(self) -> str:
        return f"{format_path(self.path)}: {self.message}" if self.path else self.message


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
    if "$ref" in node:  # `#/$defs/<name>`; siblings (descriptions) override the target's
        target = defs[node["$ref"].removeprefix("#/$defs/")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return {key: _inline_refs(value, defs) for key, value in node.items()}


def did_you_mean(word: object, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a candidate is close to ``word``, else ``""``."""
    if not isinstance(word, str):
        return ""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6) or [
        lowered[m] for m in difflib.get_close_matches(word.lower(), lowered, n=1, cutoff=0.6)
    ]
    return f"; did you mean {match[0]!r}?" if match else ""


# --- the schema ---------------------------------------------------------------------------


@functools.cache
def quick_validator() -> jsonschema_rs.Draft202012Validator:
    """A compiled Rust validator of the same schema, to tell valid from invalid fast.

    It only answers yes or no; every message comes from ``validator()``. The two must agree
    on what is valid (a property test in tests/reconciler/test_validate_engines.py holds
    them to it): this one decides whether a 10,000-webhook file needs explaining at all,
    in milliseconds instead of the half second jsonschema takes.
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
        yield Finding(path, "must list at least one notification type")
    elif keyword == "uniqueItems":
        seen: list[object] = []  # items may be unhashable (a mapping in a list)
        for index, item in enumerate(value):
            if item in seen:
                shown = repr(item) if isinstance(item, str) else _describe(item)
                yield Finding((*path, index), f"{shown} is listed more than once")
            seen.append(item)
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
        what = {"type": "url or email", "format": "sibs or standard-webhooks"}.get(
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
            f"{did_you_mean(value, ('url', 'email'))}",
        )
    else:
        formats = ("sibs", "standard-webhooks")
        yield Finding(
            path,
            f"{value!r} is not a delivery format (sibs or standard-webhooks)"
            f"{did_you_mean(value, formats)}",
        )


def _explain_pattern(error: ValidationError, path: YamlPath, value: object) -> Finding:
    if "propertyNames" in error.absolute_schema_path:
        name = str(value)
        hint = f"; did you mean {name.lower()!r}?" if _is_name(name.lower()) else ""
        return Finding(
            (*path, name), f"invalid webhook name {name!r}: use {_NAME_RULE}{hint}", at_key=True
        )
    field = path[-1] if path else ""
    if field == "owner":
        return Finding(path, f"invalid owner {value!r}: use {_NAME_RULE}")
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


def _is_name(text: str) -> bool:
    return re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", text) is not None


def _get(doc: object, path: YamlPath) -> object:
    for part in path:
        if isinstance(doc, dict) and isinstance(part, str):
            doc = doc.get(part)
        elif isinstance(doc, list) and isinstance(part, int) and part < len(doc):
            doc = doc[part]
        else:
            return None
    return doc


# --- the checks a schema cannot make --------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or None. Never repeats the URL (it may hold a
    password)."""
    if _PLAIN_HTTPS_URL.match(url):  # the common case, without urlsplit's cost
        return None
    if _URL_BAD_CHAR.search(url):
        return "a URL must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"must be an https:// URL (not {scheme + ':' if scheme else 'a relative URL'})"
    host = parts.hostname
    if not host:
        return "the URL has no host"
    if scheme == "http" and not is_loopback(host):
        return (
            f"must use https; http is only allowed to loopback hosts (127.0.0.1, ::1, "
            f"localhost), not {host}"
        )
    return None


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def email_problem(address: str) -> str | None:
    """Why ``address`` is not an e-mail address (local@domain.tld), or None."""
    if _EMAIL.match(address) is None:
        return f"{address!r} is not an e-mail address (expected local@domain.tld)"
    return None


def secret_problem(secret: str, delivery_format: str, source: str) -> str | None:
    """Why ``secret`` does not suit ``delivery_format``, or None; names only the source."""
    if delivery_format == "standard-webhooks":
        rule = "a standard-webhooks secret is 'whsec_' + base64 of 24 to 64 bytes"
        if not secret.startswith("whsec_"):
            return f"{rule}; the secret from {source} does not start with 'whsec_'"
        raw = _b64(secret[6:])
        if raw is None:
            return f"{rule}; the secret from {source} is not valid base64 after 'whsec_'"
        if not 24 <= len(raw) <= 64:
            return f"{rule}; the secret from {source} decodes to {len(raw)} bytes"
        return None
    rule = "a sibs secret is standard base64 of exactly 32 bytes (an AES-256 key)"
    raw = _b64(secret)
    if raw is None:
        return f"{rule}; the secret from {source} is not valid base64"
    if len(raw) != 32:
        return f"{rule}; the secret from {source} decodes to {len(raw)} bytes"
    return None


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def application_problem(application: str, catalog: Catalog) -> str | None:
    """Why ``application`` names no store or terminal of the catalogue, or None."""
    kind, _, ref = application.partition(":")
    if kind == "store" and ref not in catalog.stores:
        hint = did_you_mean(ref, catalog.stores) or _known("stores", catalog.stores)
        return f"the backoffice has no store {ref!r}{hint}"
    if kind == "terminal" and ref not in catalog.terminals:
        hint = did_you_mean(ref, catalog.terminals) or _known("terminals", catalog.terminals)
        return f"the backoffice has no terminal {ref!r}{hint}"
    return None


def _known(what: str, names: Iterable[str]) -> str:
    ordered = sorted(names)
    if not ordered:
        return f" (it has no {what})"
    shown = ", ".join(ordered[:10]) + (", ..." if len(ordered) > 10 else "")
    return f" (known {what}: {shown})"


def notification_findings(
    path: YamlPath, notifications: object, catalog: Catalog
) -> Iterator[Finding]:
    """Notification types the catalogue does not offer (the schema checked the rest)."""
    if not isinstance(notifications, list):
        return
    known: Mapping[str, str] = catalog.notification_types
    for index, item in enumerate(notifications):
        if isinstance(item, str) and item in NOTIFICATION_TYPES and item not in known:
            yield Finding(
                (*path, index),
                f"{item!r} is not offered by the backoffice"
                f"{did_you_mean(item, known) or _known('types', known)}",
            )

"""Field rules for webhook bodies: pure checks with no database, used by the service.

Each check takes the raw value (from JSON or an in-process caller) and returns it
typed, or raises ``Invalid`` with a detail that names the field and never quotes a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from backoffice.applied import parse as applied_record
from backoffice.errors import Invalid
from contract import formats
from contract import rules as contract
from contract import secrets as secret_rules
from contract.addresses import literal_target_problem
from contract.catalogue import NOTIFICATION_TYPES
from contract.rules import MAX_DESCRIPTION, MAX_EMAIL
from contract.urls import MAX_URL, url_problem

LABEL_KEY_RE: Final = re.compile(r"[a-z0-9][a-z0-9./-]{0,62}")
CODE_RE: Final = re.compile(contract.CODE_PATTERN)  # store codes, terminal ids
ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # merchant ids, client ids
IDEMPOTENCY_KEY_RE: Final = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII

MAX_LABELS: Final = 32
MAX_LABEL_VALUE: Final = 256
MAX_SECRET: Final = 256
MAX_SEARCH: Final = 256

CREATE_FIELDS: Final = frozenset({
    "name", "type", "url", "email", "application", "notifications", "secret", "support_email",
    "format", "enabled", "description", "labels", "applied",
})
CREATE_REQUIRED: Final = ("name", "type", "application", "notifications")
IMMUTABLE_FIELDS: Final = ("type",)
# A PATCH may rename (``name``), and say how long a replaced secret stays valid.
PATCH_FIELDS: Final = (CREATE_FIELDS - set(IMMUTABLE_FIELDS)) | {"secret_grace_seconds"}


def check_fields(body: object, allowed: frozenset[str], *, required: tuple[str, ...] = (),
                 immutable: tuple[str, ...] = ()) -> None:
    """The body is an object of known fields, with the required ones not null."""
    if not isinstance(body, Mapping):
        raise Invalid("the body must be a JSON object")
    for key in body:
        if key in immutable:
            raise Invalid(f"{key} cannot change: a webhook keeps its {key} for life "
                          "(delete and create it again instead)")
        if key not in allowed:
            raise Invalid(f"unknown field {key!r}; the fields are: {', '.join(sorted(allowed))}")
    for key in required:
        if body.get(key) is None:
            raise Invalid(f"{key} is required")


def _string(field: str, value: object, max_length: int, *, lines: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string")
    if len(value) > max_length:
        raise Invalid(f"{field} is too long ({len(value)} characters; at most {max_length})")
    if problem := contract.unsafe_character_problem(value, lines=lines):
        raise Invalid(f"{field} {problem}")
    return value


def name(value: object) -> str:
    text = _string("name", value, 63)
    if not contract.is_name(text):
        raise Invalid(f"name must be {contract.NAME_RULE}")
    return text


def webhook_type(value: object) -> str:
    if value not in contract.WEBHOOK_TYPES:
        raise Invalid("type must be 'url' or 'email'")
    return str(value)


def url(value: object, *, allow_http_loopback: bool, allow_private_targets: bool) -> str:
    text = _string("url", value, MAX_URL)
    if problem := url_problem(text, allow_http_loopback=allow_http_loopback):
        raise Invalid(f"url {problem}")
    if not allow_private_targets and (problem := literal_target_problem(text)):
        raise Invalid(f"url {problem}")
    return text


def email(field: str, value: object) -> str:
    text = _string(field, value, MAX_EMAIL)
    if problem := contract.email_problem(text):
        raise Invalid(f"{field} {problem}")
    return text


def application(value: object) -> tuple[str, str | None]:
    """``merchant``, ``store:<code>`` or ``terminal:<id>`` -> (kind, ref)."""
    parsed = contract.parse_application(_string("application", value, 64))
    if parsed is None:
        raise Invalid("application must be 'merchant', 'store:<code>' or 'terminal:<id>'")
    return parsed


def notification_type(field: str, value: object) -> str:
    text = _string(field, value, 64)
    if text not in NOTIFICATION_TYPES:
        raise Invalid(f"{field} has an unknown notification type {text!r}; "
                      f"the catalogue has: {', '.join(NOTIFICATION_TYPES)}")
    return text


def notifications(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise Invalid("notifications must be a non-empty list of notification types")
    if len(value) > 64:
        raise Invalid("notifications has too many entries")
    return tuple(sorted({notification_type("notifications", v) for v in value}))


def secret(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("secret must be a non-empty string")
    if len(value) > MAX_SECRET:
        raise Invalid(f"secret is too long (at most {MAX_SECRET} characters)")
    return value


def grace_seconds(field: str, value: object) -> int:
    """A grace period in whole seconds, 0 to ``MAX_GRACE_S``."""
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 0 <= value <= secret_rules.MAX_GRACE_S:
        raise Invalid(f"{field} must be whole seconds from 0 to {secret_rules.MAX_GRACE_S} "
                      "(30 days)")
    return value


def delivery_format(value: object) -> str:
    if not isinstance(value, str) or value not in formats.REGISTRY:
        raise Invalid(f"format must be {' or '.join(repr(n) for n in formats.NAMES)}")
    return value


def enabled(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid("enabled must be true or false")
    return value


def description(value: object) -> str:
    return _string("description", value, MAX_DESCRIPTION, lines=True)


def labels(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise Invalid("labels must be an object of string values")
    if len(value) > MAX_LABELS:
        raise Invalid(f"labels has {len(value)} entries; at most {MAX_LABELS}")
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not LABEL_KEY_RE.fullmatch(key):
            raise Invalid(f"labels key {str(key)[:70]!r} must be 1 to 63 of a-z, 0-9, '.', '/', "
                          "'-', starting with a letter or digit")
        result[key] = _string(f"labels.{key}", item, MAX_LABEL_VALUE)
    return dict(sorted(result.items()))


def identifier(field: str, value: object, pattern: re.Pattern[str]) -> str:
    text = _string(field, value, 64)
    if not pattern.fullmatch(text):
        raise Invalid(f"{field} {text!r} must match {pattern.pattern}")
    return text


def idempotency_key(value: str) -> str:
    if not IDEMPOTENCY_KEY_RE.fullmatch(value):
        raise Invalid("Idempotency-Key must be 1 to 255 visible ASCII characters")
    return value


def parse_fields(body: Mapping[str, Any], *, allow_http_loopback: bool,
                 allow_private_targets: bool) -> dict[str, Any]:
    """Check each given field on its own; null stays null (the caller decides if allowed).
    ``allow_private_targets``: False refuses a URL whose host is a literal private address."""
    parsers: dict[str, Any] = {
        "name": name, "type": webhook_type,
        "url": lambda v: url(v, allow_http_loopback=allow_http_loopback,
                             allow_private_targets=allow_private_targets),
        "email": lambda v: email("email", v),
        "support_email": lambda v: email("support_email", v),
        "application": application, "notifications": notifications, "secret": secret,
        "format": delivery_format, "enabled": enabled, "description": description,
        "labels": labels, "applied": applied_record,
        "secret_grace_seconds": lambda v: grace_seconds("secret_grace_seconds", v),
    }
    nullable = {"url", "email", "support_email", "format", "secret", "secret_grace_seconds"}
    parsed: dict[str, Any] = {}
    for key, value in body.items():
        if value is None:
            if key not in nullable:
                raise Invalid(f"{key} cannot be null")
            parsed[key] = None
        else:
            parsed[key] = parsers[key](value)
    return parsed


def check_shape(state: Mapping[str, Any], *, secret_given: bool) -> None:
    """Type-dependent fields: url webhooks have url and format, e-mail ones email only."""
    if state["type"] == "url":
        if state.get("url") is None:
            raise Invalid("url is required for a url webhook")
        if state.get("email") is not None:
            raise Invalid("email is only for email webhooks; a url webhook takes url")
        if state.get("format") is None:
            raise Invalid("format cannot be null for a url webhook: use sibs or standard-webhooks")
    else:
        if state.get("email") is None:
            raise Invalid("email is required for an email webhook")
        if state.get("url") is not None:
            raise Invalid("url is only for url webhooks; an email webhook takes email")
        if state.get("format") is not None:
            raise Invalid("format is only for url webhooks: an email webhook sends e-mails")
        if secret_given:
            raise Invalid("secret is only for url webhooks: an email webhook has no secret")

"""Payment notifications: the emit and test bodies' rules, the scenario they name, and
the notification a scenario continues.

The JSON itself is built in one place, ``contract.payloads``, from the catalogue's
variants (``contract.catalogue``); this module checks what the API was given and
finds, for a scenario that follows another, the notification it continues.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import Connection

from backoffice import rules
from backoffice.db import delivery_queries as dq
from backoffice.errors import Invalid
from contract import catalogue, payloads
from contract.catalogue import PAYMENT_STATUSES, Scenario

EMIT_FIELDS: Final = frozenset({"terminal", "type", "scenario", "payment_method", "status",
                                "amount"})
MAX_AMOUNT: Final = 1e12
FOLLOW_WINDOW: Final = 2000  # a follower looks among this many of the latest notifications
_METHOD_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")


def scenario(field: str, name: object, code: str | None = None) -> Scenario:
    """The scenario called ``name`` (of type ``code`` when given), or Invalid with a
    "did you mean" and the list."""
    if not isinstance(name, str) or not name:
        raise Invalid(f"{field} must be a scenario name, such as 'mbway-purchase'")
    problem = catalogue.scenario_problem(name, code)
    if problem is not None:
        raise Invalid(f"{field}: {problem}")
    return catalogue.SCENARIOS[name]


def parse_emit(body: object) -> dict[str, Any]:
    """Check an emit body; returns terminal, scenario, payment_method, status, amount
    (a type alone sends its default scenario; a scenario alone says its type)."""
    rules.check_fields(body, EMIT_FIELDS, required=("terminal",))
    assert isinstance(body, Mapping)
    terminal = rules.identifier("terminal", body["terminal"], rules.CODE_RE)
    code = None
    if body.get("type") is not None:
        code = rules.notification_type("type", body["type"])
    if body.get("scenario") is not None:
        chosen = scenario("scenario", body["scenario"], code)
    elif code is not None:
        chosen = catalogue.default_scenario(code)
    else:
        raise Invalid("type or scenario is required: the notification type (mbway...) "
                      "or a scenario (mbway-purchase-declined...)")
    method = body.get("payment_method")
    if method is not None and (not isinstance(method, str) or not _METHOD_RE.fullmatch(method)):
        raise Invalid("payment_method must be 1 to 32 of A-Z, a-z, 0-9, '_', '-' (e.g. MBWAY)")
    status = body.get("status")
    if status is not None and status not in PAYMENT_STATUSES:
        raise Invalid(f"status must be one of: {', '.join(PAYMENT_STATUSES)}")
    given = body.get("amount")
    return {"terminal": terminal, "scenario": chosen, "payment_method": method,
            "status": status, "amount": None if given is None else _amount(given)}


def _amount(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or set(value) - {"value", "currency"}:
        raise Invalid("amount must be an object {\"value\": 12.5, \"currency\": \"EUR\"}")
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float) \
            or not math.isfinite(number) or not 0 <= number <= MAX_AMOUNT:
        raise Invalid(f"amount.value must be a number from 0 to {MAX_AMOUNT:.0f}")
    currency = value.get("currency", "EUR")
    if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
        raise Invalid("amount.currency must be an ISO 4217 code such as EUR")
    return {"value": round(float(number), 2), "currency": currency}


def previous(conn: Connection, merchant_id: str, chosen: Scenario, terminal: str, *,
             test: bool) -> dict[str, Any] | None:
    """The latest notification the scenario continues (the reference generated, the
    mandate created, the card stored), at the same terminal and equally a test or not,
    among the latest ``FOLLOW_WINDOW`` notifications; None when there is none."""
    leader_name = chosen.variant.follows
    if leader_name is None:
        return None
    leader = catalogue.SCENARIOS[leader_name]
    for payload in dq.recent_payloads(conn, merchant_id, leader.type.code, terminal,
                                      test=test, window=FOLLOW_WINDOW):
        if payloads.continues(payload, leader.variant):
            return payload
    return None

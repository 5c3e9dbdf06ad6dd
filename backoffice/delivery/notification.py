"""Payment notifications: the emit body's rules and the JSON a receiver gets."""

from __future__ import annotations

import math
import re
import secrets
import uuid
from collections.abc import Mapping
from typing import Any, Final

from backoffice import rules
from backoffice.errors import Invalid
from contract.catalogue import NOTIFICATIONS, PAYMENT_STATUSES

DEFAULT_METHODS: Final[dict[str, str]] = {n.code: n.payment_method for n in NOTIFICATIONS}
DEFAULT_AMOUNT: Final[dict[str, Any]] = {"value": 10.0, "currency": "EUR"}
EMIT_FIELDS: Final = frozenset({"terminal", "type", "payment_method", "status", "amount"})
MAX_AMOUNT: Final = 1e12
_METHOD_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")


def parse_emit(body: object) -> dict[str, Any]:
    """Check an emit body; returns terminal, type, payment_method, status, amount."""
    rules.check_fields(body, EMIT_FIELDS, required=("terminal", "type"))
    assert isinstance(body, Mapping)
    terminal = rules.identifier("terminal", body["terminal"], rules.CODE_RE)
    code = rules.notification_type("type", body["type"])
    method = body.get("payment_method")
    if method is None:
        method = DEFAULT_METHODS[code]
    elif not isinstance(method, str) or not _METHOD_RE.fullmatch(method):
        raise Invalid("payment_method must be 1 to 32 of A-Z, a-z, 0-9, '_', '-' (e.g. MBWAY)")
    status = body.get("status")
    if status is None:
        status = "Success"
    elif status not in PAYMENT_STATUSES:
        raise Invalid(f"status must be one of: {', '.join(PAYMENT_STATUSES)}")
    return {"terminal": terminal, "type": code, "payment_method": method, "status": status,
            "amount": _amount(body.get("amount"))}


def _amount(value: object) -> dict[str, Any]:
    if value is None:
        return dict(DEFAULT_AMOUNT)
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


def build(*, code: str, terminal: str, status: str, method: str, amount: Mapping[str, Any],
          moment: str, test: bool) -> dict[str, Any]:
    """A notification's JSON (DESIGN section 2); fresh ids every time."""
    return {
        "notificationID": uuid.uuid4().hex,
        "type": code,
        "paymentStatus": status,
        "paymentMethod": method,
        "transactionID": "s2" + secrets.token_hex(10),
        "transactionDateTime": moment,
        "amount": dict(amount),
        "merchant": {"terminalId": terminal, "transactionId": "tx-" + secrets.token_hex(6)},
        "returnStatus": {"statusCode": "000", "statusMsg": "Success"},
        "test": test,
    }

"""The body of an emit (``POST /v1/notifications``), built from ``webhooks emit``'s options.

``reconciler.render.deliveries`` shows what the backoffice answers.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.render.terminal import printable


def emit_body(*, terminal: str, type: str, status: str | None = None,
              amount: str | None = None, currency: str | None = None,
              method: str | None = None) -> dict[str, Any]:
    """The body of an emit (``POST /v1/notifications``) from the command's options."""
    body: dict[str, Any] = {"terminal": terminal, "type": type}
    if status is not None:
        body["status"] = status
    if method is not None:
        body["payment_method"] = method
    if amount is not None or currency is not None:
        money: dict[str, Any] = {}
        if amount is not None:
            try:
                value = Decimal(amount)
            except InvalidOperation:
                value = Decimal("NaN")
            if not value.is_finite() or value < 0:
                raise ReconcilerError(f"--amount must be a non-negative number, like 12.50; "
                                      f"got {printable(amount)!r}")
            money["value"] = float(value)
        if currency is not None:
            money["currency"] = currency.upper()
        body["amount"] = money
    return body

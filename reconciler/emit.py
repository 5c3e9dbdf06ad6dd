"""The body of an emit (``POST /v1/notifications``), built from ``webhooks emit``'s options,
and the scenarios ``emit`` and ``test`` may name (checked here, before any request, with
a "did you mean").

``reconciler.render.deliveries`` shows what the backoffice answers.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from contract import catalogue
from reconciler.errors import ReconcilerError
from reconciler.render.terminal import printable


def check_scenario(scenario: str | None, notification_type: str | None) -> None:
    """ReconcilerError (exit 1) for a scenario that is not one, or not of the type."""
    if scenario is None:
        return
    code = notification_type if notification_type in catalogue.BY_CODE else None
    problem = catalogue.scenario_problem(scenario, code)
    if problem is not None:
        raise ReconcilerError(printable(f"--scenario: {problem}"))


def scenario_rows() -> list[tuple[str, str, str]]:
    """(name, catalogue type, description) of every scenario, in catalogue order."""
    return [(s.name, s.type.code, s.variant.description) for s in catalogue.SCENARIOS.values()]


def render_scenarios() -> str:
    """``--list-scenarios``: one line each, the type's default marked."""
    defaults = {n.variants[0].name for n in catalogue.NOTIFICATIONS if n.variants}
    rows = [("SCENARIO", "TYPE", "DESCRIPTION")]
    rows += [(name + (" *" if name in defaults else ""), code, text)
             for name, code, text in scenario_rows()]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{a.ljust(widths[0])}  {b.ljust(widths[1])}  {c}" for a, b, c in rows]
    lines.append("* the type's default (sent when no --scenario is given)")
    return "\n".join(lines) + "\n"


def emit_body(*, terminal: str, type: str | None = None, scenario: str | None = None,
              status: str | None = None, amount: str | None = None,
              currency: str | None = None, method: str | None = None) -> dict[str, Any]:
    """The body of an emit (``POST /v1/notifications``) from the command's options."""
    if type is None and scenario is None:
        raise ReconcilerError("give --type TYPE or --scenario NAME "
                              "(`webhooks emit --list-scenarios` lists the scenarios)")
    check_scenario(scenario, type)
    body: dict[str, Any] = {"terminal": terminal}
    if type is not None:
        body["type"] = type
    if scenario is not None:
        body["scenario"] = scenario
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

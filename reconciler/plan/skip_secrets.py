"""Plans without secrets (``webhooks plan --skip-secrets``).

A pull request's plan job need not hold the keys that sign payment notifications: with
``--skip-secrets`` the config's ``secret:`` references are not read, secrets are not
compared (the planner keeps the backoffice's), and every format says so where a secret
would be (``NotCompared``). Everything else is planned as usual.

Applying such a plan file re-plans with the secrets (apply needs them) and proceeds only
when everything but the secrets matches the reviewed plan (``comparable``): a secret
that differs is applied without review, as a secret has no value a reviewer could read.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reconciler.plan.changes import Change, Plan, Sensitive

NOT_COMPARED = "not compared (--skip-secrets)"


@dataclasses.dataclass(frozen=True)
class NotCompared(Sensitive):
    """Where a secret the config reads would be, in a plan made without it."""

    fingerprint: str = ""

    @property
    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sensitive": True, "compared": False}
        if self.source is not None:
            out["source"] = self.source
        return out


def mark(plan: Plan) -> Plan:
    """``plan`` (made with the secrets unread) saying where each secret was not compared."""
    changes = [_mark(change) for change in plan.changes]
    return dataclasses.replace(
        plan, changes=tuple(changes),
        options=dataclasses.replace(plan.options, skip_secrets=True),
        context=dataclasses.replace(plan.context, secrets_compared=False))


def _mark(change: Change) -> Change:
    spec = change.spec
    if spec is None or spec.secret is None or change.after is None:
        return change
    marker = NotCompared(source=spec.secret.source)
    after = {**change.after, "secret": marker}
    fields = tuple(dataclasses.replace(fc, after=marker) if fc.field == "secret" else fc
                   for fc in change.fields)
    return dataclasses.replace(change, after=after, fields=fields)


def comparable(data: dict[str, Any], *, secrets: bool) -> dict[str, Any] | None:
    """A change's data as a saved plan and a fresh one are compared: without where each
    change comes from (that depends on --base and the last apply, not on what apply
    does), and, unless ``secrets``, without secrets. None: nothing is left to compare
    (only a secret changes)."""
    out = {k: v for k, v in data.items() if k != "origin"}
    fields = [{k: v for k, v in f.items() if k != "origin"} for f in data.get("fields", ())]
    if not secrets:
        fields = [f for f in fields if f.get("field") != "secret"]
        for side in ("before", "after"):
            view = out.get(side)
            if isinstance(view, dict):
                out[side] = {k: v for k, v in view.items() if k != "secret"}
        if data.get("action") == "update" and not fields:
            return None
    out["fields"] = fields
    return out

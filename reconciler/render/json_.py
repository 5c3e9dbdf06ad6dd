"""The plan for machines: JSON per ``schemas/plan.schema.json`` (also the plan file)."""

from __future__ import annotations

from reconciler.plan import Plan
from reconciler.plan.planfile import dumps


def render_json(plan: Plan) -> str:
    """The plan as indented JSON with a final newline; key order is stable."""
    return dumps(plan)

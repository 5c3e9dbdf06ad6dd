"""The plan for machines: JSON per ``schemas/plan.schema.json`` (also the plan file)."""

from __future__ import annotations

import json

from reconciler.plan import Plan


def render_json(plan: Plan) -> str:
    """The plan as indented JSON with a final newline; key order is stable."""
    return json.dumps(plan.data, indent=2, ensure_ascii=False) + "\n"

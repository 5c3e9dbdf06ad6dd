"""Planning: desired webhooks against actual ones, as an ordered ``Plan`` of changes.

A plan holds domain objects (``Create``, ``Update``, ``Replace``, ``Delete``), what
was left alone (unchanged, unmanaged, other owners'), conflicts, and the reasons it is
unsafe. Renderers (``reconciler.render``) turn it into text, Markdown or JSON; apply
executes it. Nothing here prints.

``changes``: the domain objects; ``diff``: ``build_plan`` and comparing; ``safety``: the
bulk-delete and prevent_destroy checks; ``normalize``: one canonical form for both sides;
``planfile``: saved plans; ``payload``: the request bodies apply sends.
"""

from __future__ import annotations

from reconciler.plan.changes import (
    ACTION_ORDER,
    FORMAT_VERSION,
    Action,
    Change,
    ConflictItem,
    Create,
    Delete,
    FieldChange,
    Plan,
    PlanOptions,
    Precondition,
    ReasonKind,
    RemoteRef,
    Replace,
    SafeValue,
    Sensitive,
    Summary,
    UnsafeReason,
    Update,
    View,
    json_value,
    safe_value,
)
from reconciler.plan.diff import DesiredState, build_plan
from reconciler.plan.safety import THRESHOLD_MIN_MANAGED, THRESHOLD_PERCENT

__all__ = [
    "ACTION_ORDER",
    "FORMAT_VERSION",
    "THRESHOLD_MIN_MANAGED",
    "THRESHOLD_PERCENT",
    "Action",
    "Change",
    "ConflictItem",
    "Create",
    "Delete",
    "DesiredState",
    "FieldChange",
    "Plan",
    "PlanOptions",
    "Precondition",
    "ReasonKind",
    "RemoteRef",
    "Replace",
    "SafeValue",
    "Sensitive",
    "Summary",
    "UnsafeReason",
    "Update",
    "View",
    "build_plan",
    "json_value",
    "safe_value",
]

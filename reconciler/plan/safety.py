"""What makes a plan unsafe: conflicts, prevent_destroy, and the bulk-delete threshold.

Each reason says how to get past it; ``--force`` overrides the threshold only.
"""

from __future__ import annotations

from reconciler.model import DEFAULT_THRESHOLDS, SafetyThresholds
from reconciler.plan.changes import Action, Change, ConflictItem, UnsafeReason

# Bulk-delete guard: deletes + replaces above this share of the owner's managed
# webhooks make a plan unsafe (unless forced), once there are at least MIN_MANAGED.
# The config's `safety:` may set both (SafetyThresholds); these are the defaults.
THRESHOLD_PERCENT = SafetyThresholds.percent
THRESHOLD_MIN_MANAGED = SafetyThresholds.min_managed


def unsafe_reasons(
    changes: list[Change], conflicts: list[ConflictItem], managed: int, force: bool,
    thresholds: SafetyThresholds = DEFAULT_THRESHOLDS,
) -> list[UnsafeReason]:
    """Every reason the changes are unsafe, the threshold's marked overridden when forced."""
    reasons = [
        UnsafeReason(
            "conflict",
            c.message,
            "Re-run with --adopt to take it over, or give the config's webhook another name.",
            (c.name,),
        )
        for c in conflicts
    ]
    for change in changes:
        if change.protected:
            reasons.append(_protected_reason(change))
    destructive = [c.name for c in changes if c.action in (Action.DELETE, Action.REPLACE)]
    # Integer arithmetic: exactly 30% is allowed, anything above is not.
    percent = thresholds.percent
    over = len(destructive) * 100 > percent * managed
    if managed >= thresholds.min_managed and over:
        share = round(len(destructive) * 100 / managed)
        reasons.append(
            UnsafeReason(
                "threshold",
                f"{len(destructive)} of {managed} managed webhooks ({share}%) would be deleted or "
                f"replaced, above the {percent}% safety threshold",
                "Review the deletions, then re-run with --force to allow them.",
                tuple(destructive),
                overridden=force,
            )
        )
    return reasons


def _protected_reason(change: Change) -> UnsafeReason:
    name = change.name
    never = "--force does not override prevent_destroy."
    if change.action is Action.DELETE:
        return UnsafeReason(
            "prevent_destroy",
            f'"{name}" would be deleted, but it has prevent_destroy '
            '(label prevent-destroy="true" in the backoffice)',
            f"To delete it, put its block back with prevent_destroy: false, apply, then remove "
            f"the block. {never}",
            (name,),
        )
    assert change.before is not None and change.after is not None
    types = f"type {change.before['type']} -> {change.after['type']}"
    if change.spec is not None and change.spec.prevent_destroy:
        return UnsafeReason(
            "prevent_destroy",
            f'"{name}" would be replaced ({types}), but it has prevent_destroy: true',
            f"Set prevent_destroy: false and apply first (keeping the old type), then change "
            f"the type. {never}",
            (name,),
        )
    return UnsafeReason(
        "prevent_destroy",
        f'"{name}" would be replaced ({types}), but the backoffice still protects it '
        '(label prevent-destroy="true")',
        f"Apply with the old type first so prevent_destroy: false clears the label, then "
        f"change the type. {never}",
        (name,),
    )

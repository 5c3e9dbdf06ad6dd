"""What the text and Markdown plans say beside the changes, for reviewers: the context
(environment, base revision, secrets not compared), the drift, where each change comes
from, the bulk-delete guard, and unmanaged webhooks named when they fail the check.
Plain strings; each renderer styles them its own way.
"""

from __future__ import annotations

from reconciler.plan import Action, Change, Plan
from reconciler.plan.skip_secrets import NOT_COMPARED, NotCompared

SKIPPED = f"secret {NOT_COMPARED}"


def context_lines(plan: Plan) -> list[str]:
    """The environment, the base and the secrets, one sentence each (none when default)."""
    ctx = plan.context
    lines = []
    if ctx.environment is not None:
        lines.append(f'Environment "{ctx.environment}".')
    if ctx.base is not None:
        base = ctx.base
        where = f"{base.revision} ({base.commit[:12]})"
        if base.found:
            lines.append(f"Compared with {ctx.config_name} at {where}: changes marked "
                         '"this pull request" are its own.')
        else:
            lines.append(f"{ctx.config_name} does not exist at {where}: this pull request "
                         "adds it, so every change is its own.")
    if not ctx.secrets_compared:
        lines.append("Secrets were not read nor compared (--skip-secrets): apply reads them "
                     "and applies a differing secret too.")
    return lines


def origin_note(origin: str | None, plan: Plan) -> str:
    """Why a change is in the plan, when there is more to say than "the config asks"."""
    ctx = plan.context
    if origin == "drift":
        return f"changed outside {ctx.config_name} since the last apply; apply restores it"
    if origin == "both":
        return f"changed in {ctx.config_name} and outside it since the last apply"
    if origin == "pull_request":
        return "this pull request"
    if origin == "base":
        where = ctx.base.revision if ctx.base is not None else "the base"
        return f"already in {ctx.config_name} at {where}"
    return ""


def short_origin(origin: str | None) -> str:
    """A few words for a table cell."""
    return {"drift": "drift", "both": "config and drift", "pull_request": "this PR",
            "base": "on base"}.get(origin or "", "")


def drift_heading(plan: Plan) -> str:
    return (f"Changed outside {plan.context.config_name} since the last apply "
            "(apply restores the config):")


def drift_when(applied_at: str | None, revision: str | None) -> str:
    parts = []
    if applied_at:
        parts.append(f"last applied {applied_at}")
    if revision:
        parts.append(f"revision {revision[:12]}{'-dirty' if revision.endswith('-dirty') else ''}")
    return ", ".join(parts)


def secret_not_compared(change: Change) -> bool:
    """Whether the change's webhook has a secret this plan did not read."""
    return change.after is not None and isinstance(change.after.get("secret"), NotCompared)


def lists_secret(change: Change) -> bool:
    """Whether the change's own lines show the secret already (creates, a secret field)."""
    return change.action is Action.CREATE or any(f.field == "secret" for f in change.fields)


def guard_line(plan: Plan) -> str | None:
    """The bulk-delete guard, when the plan deletes or replaces anything."""
    if not any(c.action in (Action.DELETE, Action.REPLACE) for c in plan.changes):
        return None
    t = plan.context.thresholds
    where = f"`safety:` in {plan.context.config_name}"
    if plan.managed < t.min_managed:
        return (f"Bulk-delete guard: off below {t.min_managed} managed webhooks (this owner "
                f"has {plan.managed}; {where}).")
    return (f"Bulk-delete guard: deleting or replacing more than {t.percent}% of this owner's "
            f"{plan.managed} managed webhooks makes a plan unsafe ({where}).")


def unmanaged_line(plan: Plan) -> str | None:
    """The unmanaged webhooks by name, when --fail-on-unmanaged makes them fail the check."""
    if not plan.context.list_unmanaged or not plan.unmanaged:
        return None
    names = ", ".join(r.name for r in plan.unmanaged)
    return (f"Unmanaged: {names}. No config manages "
            f"{'them' if len(plan.unmanaged) != 1 else 'it'} (--fail-on-unmanaged): "
            "import and adopt, or delete in the backoffice.")

"""The plan for people at a terminal: Terraform-like, coloured with rich or plain."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from reconciler.plan import Action, Change, Plan, UnsafeReason
from reconciler.plan.notices import PlanWarning
from reconciler.render import review
from reconciler.render.common import (
    SYMBOLS,
    by_owner,
    describe,
    format_value,
    title,
    verb,
    view_texts,
)
from reconciler.render.terminal import printable

STYLES: dict[str, str] = {
    "create": "green",
    "update": "yellow",
    "adopt": "cyan",
    "rename": "yellow",
    "replace": "magenta",
    "delete": "red",
}
INDENT = "    "


def render_text(plan: Plan, *, color: bool) -> str:
    """The whole plan as text; ANSI colours only when ``color``."""
    sections: list[Text] = []
    if plan.backoffice is not None:
        sections.append(Text(printable(plan.backoffice.line) + "\n", style="dim"))
    context = review.context_lines(plan)
    if context:
        sections.append(Text("".join(line + "\n" for line in context), style="dim"))
    if plan.drift:
        sections.append(_drift(plan))
    if plan.changes:
        head = Text(f'Webhooks plan for owner "{plan.owner}":\n', style="bold")
        sections.append(head)
        for change in plan.changes:
            sections.append(_change(change, plan))
    guard = review.guard_line(plan)
    if guard is not None:
        sections.append(Text(guard + "\n", style="dim"))
    unmanaged = review.unmanaged_line(plan)
    if unmanaged is not None:
        sections.append(Text(unmanaged + "\n", style="bold yellow"))
    if plan.foreign:
        groups = ", ".join(f"{o} ({len(n)})" for o, n in by_owner(plan.foreign).items())
        sections.append(Text(f"Left alone, owned by other owners: {groups}.\n", style="dim"))
    blocking = [r for r in plan.reasons if not r.overridden]
    forced = [r for r in plan.reasons if r.overridden]
    if blocking:
        sections.append(_box("Error: this plan is unsafe and cannot be applied", blocking,
                             "bold red", hints=True))
    if forced:
        sections.append(_box("Warning: allowed by --force", forced, "bold yellow", hints=False))
    if plan.warnings:
        sections.append(_warnings(plan.warnings))
    sections.append(Text(plan.summary_line() + "\n", style="bold"))
    out = Text("\n").join(sections)
    if not color:
        return out.plain
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, color_system="standard", soft_wrap=True,
        highlight=False, emoji=False, markup=False, width=200,
    )
    console.print(out, end="")
    return buffer.getvalue()


def _drift(plan: Plan) -> Text:
    out = Text(review.drift_heading(plan) + "\n", style="bold")
    for item in plan.drift:
        out.append(f"  ~ {item.name}", style="yellow")
        when = review.drift_when(item.applied_at, item.revision)
        out.append(f" ({when})\n" if when else "\n")
        width = max(len(f.field) for f in item.fields) + 1
        for f in item.fields:
            out.append(f"{INDENT}  {f.field + ':':<{width}} "
                       f"{format_value(f.applied)} -> {format_value(f.live)}\n")
    return out


def _change(change: Change, plan: Plan) -> Text:
    out = Text()
    name = verb(change)
    style = STYLES[name]
    symbol = SYMBOLS[change.action]
    out.append(f"  {symbol} {name} ", style=style)
    out.append(title(change), style=f"bold {style}")
    out.append(f" ({_type(change)})")
    if change.adopt:
        whose = f'owned by "{change.adopted_from}"' if change.adopted_from else "unmanaged"
        out.append(f", {whose} until now")
    if change.protected:
        out.append("  [blocked: prevent_destroy]", style="bold red")
    if note := review.origin_note(change.origin, plan):
        out.append(f"  # {note}", style="dim")
    out.append("\n")
    if change.action in (Action.CREATE, Action.DELETE):
        items = view_texts(change)
        mark = "+" if change.action is Action.CREATE else "-"
    else:
        items = [(fc.field, describe(fc, change.name)) for fc in change.fields]
        mark = "~"
    notes = [review.origin_note(fc.origin, plan) for fc in change.fields] if mark == "~" else []
    width = max((len(k) for k, _ in items), default=0) + 1
    for i, (key, text) in enumerate(items):
        out.append(f"{INDENT}{mark} ", style=style)
        out.append(f"{key + ':':<{width}} {text}")
        if i < len(notes) and notes[i]:
            out.append(f"  # {notes[i]}", style="dim")
        out.append("\n")
    if review.secret_not_compared(change) and not review.lists_secret(change):
        out.append(f"{INDENT}  {review.SKIPPED}\n", style="dim")
    return out


def _type(change: Change) -> str:
    if change.action is Action.REPLACE:
        assert change.before is not None and change.after is not None
        return f"{change.before['type']} -> {change.after['type']}"
    return change.type


def _warnings(warnings: tuple[PlanWarning, ...]) -> Text:
    out = Text()
    style = "bold yellow"
    out.append("╷\n│ ", style=style)
    out.append("Warning: worth a look before apply\n", style=style)
    for warning in warnings:
        out.append("│\n│ ", style=style)
        out.append(f"- {warning.message}.\n")
    out.append("╵\n", style=style)
    return out


def _box(heading: str, reasons: list[UnsafeReason], style: str, *, hints: bool) -> Text:
    out = Text()
    out.append("╷\n│ ", style=style)
    out.append(heading + "\n", style=style)
    for reason in reasons:
        out.append("│\n│ ", style=style)
        out.append(f"- {reason.message}.\n")
        if hints:
            out.append("│ ", style=style)
            out.append(f"  {reason.hint}\n")
    out.append("╵\n", style=style)
    return out

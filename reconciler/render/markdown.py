"""The plan as a pull-request comment (GitHub-flavoured Markdown).

The hidden marker on the first line lets a CI job find and edit its previous comment
instead of adding a new one. A comment has a size limit (65,536 characters on GitHub),
so a very large plan keeps the warnings and the summary and cuts the table and the
details, saying how many were left out.
"""

from __future__ import annotations

import re

from reconciler.plan import Action, Change, Plan, SafeValue, Sensitive
from reconciler.render import review
from reconciler.render.common import (
    SENSITIVE_CHANGED,
    SYMBOLS,
    by_owner,
    format_value,
    secret_text,
    title,
    verb,
    view_texts,
)
from reconciler.render.terminal import printable

MARKER = "<!-- webhooks-reconciler:plan -->"  # a plan for an environment names it in its own
BUDGET = 60_000  # characters, under GitHub's 65,536 with room for a CI job's own text
LIST_LIMIT = 50  # names listed per group of webhooks left alone


def marker(environment: str | None) -> str:
    """The comment's first line: one comment per pull request and environment."""
    if environment is None:
        return MARKER
    return f"<!-- webhooks-reconciler:plan environment={environment} -->"


def render_markdown(plan: Plan) -> str:
    """The plan for a pull-request comment: warnings, summary, table, details."""
    env = plan.context.environment
    title = f"### Webhooks plan for `{plan.owner}`" + (f" in `{env}`" if env else "")
    head = [marker(env), title, ""]
    context = review.context_lines(plan)
    if context:
        head += [" ".join(_text(line) for line in context), ""]
    if plan.backoffice is not None:
        head += [f"Backoffice: {_code(printable(plan.backoffice.text))}", ""]
    head += _warnings(plan)
    head += [f"**{plan.summary_line()}**", ""]
    head += _drift(plan)
    tail = [f"_{_text(line)}_\n" for line in (review.guard_line(plan),
                                               review.unmanaged_line(plan)) if line]
    tail += _left_alone(plan)

    used = sum(len(x) + 1 for x in head + tail)
    rows = ["| action | name | type | target | changes |", "|---|---|---|---|---|"]
    shown_rows = 0
    for change in plan.changes:
        row = _row(change)
        if used + len(row) > BUDGET // 2:
            break
        rows.append(row)
        used += len(row) + 1
        shown_rows += 1
    body: list[str] = []
    if plan.changes:
        body += rows
        if shown_rows < len(plan.changes):
            body.append(
                f"\n_{len(plan.changes) - shown_rows} more changes not listed "
                "(comment size limit); run `webhooks plan` for the full plan._"
            )
        body.append("")
    shown_details = 0
    for change in plan.changes:
        block = _details(change, plan)
        if used + len(block) > BUDGET:
            break
        body.append(block)
        used += len(block) + 1
        shown_details += 1
    if shown_details < len(plan.changes):
        body.append(
            f"_Details of {len(plan.changes) - shown_details} changes not shown "
            "(comment size limit)._\n"
        )
    return "\n".join(head + body + tail).rstrip("\n") + "\n"


def _warnings(plan: Plan) -> list[str]:
    lines: list[str] = []
    if plan.unsafe:
        lines += ["> [!CAUTION]", "> **This plan is unsafe and cannot be applied.**", ">"]
        lines += [f"> - {_text(r.message)}. {_text(r.hint)}" for r in plan.unsafe]
        lines.append("")
    forced = [r for r in plan.reasons if r.overridden]
    if forced:
        lines += ["> [!WARNING]", "> **Allowed by `--force`:**", ">"]
        lines += [f"> - {_text(r.message)}." for r in forced]
        lines.append("")
    if plan.warnings:
        lines += ["> [!WARNING]", "> **Worth a look before apply:**", ">"]
        lines += [f"> - {_text(w.message)}." for w in plan.warnings]
        lines.append("")
    return lines


def _row(change: Change) -> str:
    action = f"`{SYMBOLS[change.action]}` {verb(change)}"
    kind = change.type
    if change.action is Action.REPLACE:
        assert change.before is not None
        kind = f"{change.before['type']} → {change.type}"
    if change.action is Action.CREATE:
        what = "new webhook"
    elif change.action is Action.DELETE:
        what = "removed from the config"
    else:
        what = ", ".join(
            fc.field + (f" ({tag})" if (tag := review.short_origin(fc.origin)) else "")
            for fc in change.fields if fc.field != "type")
    if change.action in (Action.CREATE, Action.DELETE) and review.short_origin(change.origin):
        what += f" ({review.short_origin(change.origin)})"
    if change.protected:
        what += " — **blocked by prevent_destroy**"
    return f"| {action} | {_code(title(change))} | {kind} | {_code(change.target)} | {what} |"


def _details(change: Change, plan: Plan) -> str:
    lines = [f"  {title(change)} ({change.type})"]
    if note := review.origin_note(change.origin, plan):
        lines[0] += f"  # {note}"
    if change.action in (Action.CREATE, Action.DELETE):
        mark = "+" if change.action is Action.CREATE else "-"
        lines += [f"{mark} {k}: {text}" for k, text in view_texts(change)]
    for fc in change.fields:
        if fc.field == "notifications":
            assert isinstance(fc.before, tuple) and isinstance(fc.after, tuple)
            lines.append("  notifications:")
            for item in sorted(set(fc.before) | set(fc.after)):
                mark = "+" if item in fc.added else "-" if item in fc.removed else " "
                lines.append(f"{mark}   {item}")
        elif fc.field == "secret" or (
            isinstance(fc.before, Sensitive)
            and isinstance(fc.after, Sensitive)
            and fc.before.redacted == fc.after.redacted
        ):
            text = (
                secret_text(fc, change.name)
                if fc.field == "secret"
                else (f"{format_value(fc.after)} {SENSITIVE_CHANGED}")
            )
            lines.append(f"! {fc.field}: {text}")
        else:
            lines.append(f"- {fc.field}: {format_value(fc.before)}")
            lines.append(f"+ {fc.field}: {format_value(fc.after)}")
        if note := review.origin_note(fc.origin, plan):
            lines[-1] += f"  # {note}"
    if review.secret_not_compared(change) and not review.lists_secret(change):
        lines.append(f"  {review.SKIPPED}")
    code = "\n".join(lines)
    fence = "`" * max(3, _longest_backtick_run(code) + 1)
    summary = f"<code>{SYMBOLS[change.action]} {verb(change)}</code> <b>{title(change)}</b>"
    if change.protected:
        summary += " (blocked by prevent_destroy)"
    return f"<details><summary>{summary}</summary>\n\n{fence}diff\n{code}\n{fence}\n\n</details>\n"


def _drift(plan: Plan) -> list[str]:
    if not plan.drift:
        return []
    lines = [f"#### {_text(review.drift_heading(plan).rstrip(':'))}", "",
             "| webhook | field | last applied | now |", "|---|---|---|---|"]
    for item in plan.drift:
        for f in item.fields:
            lines.append(f"| `{item.name}` | {f.field} | {_code(format_value(f.applied))} | "
                         f"{_code(format_value(f.live))} |")
    return [*lines, ""]


def _left_alone(plan: Plan) -> list[str]:
    if not plan.unmanaged and not plan.foreign:
        return []
    parts = []
    if plan.unmanaged:
        parts.append(f"{len(plan.unmanaged)} unmanaged")
    if plan.foreign:
        parts.append(f"{len(plan.foreign)} owned by other owners")
    lines = [f"<details><summary>Left alone: {', '.join(parts)}</summary>", ""]
    if plan.unmanaged:
        lines.append(f"- unmanaged: {_names([r.name for r in plan.unmanaged])}")
    for owner, names in by_owner(plan.foreign).items():
        lines.append(f"- owned by {_code(owner)}: {_names(names)}")
    return [*lines, "", "</details>", ""]


def _names(names: list[str]) -> str:
    shown = ", ".join(_code(n) for n in names[:LIST_LIMIT])
    more = len(names) - LIST_LIMIT
    return shown + (f" and {more} more" if more > 0 else "")


def _code(value: SafeValue) -> str:
    """A value as inline code, safe inside a table cell."""
    if value is None:
        return ""
    text = (value.redacted or "(sensitive)") if isinstance(value, Sensitive) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _text(text: str) -> str:
    """Plain text that Markdown must not interpret (names are safe; hints may hold `--`)."""
    return re.sub(r"([\\*_\[\]<>])", r"\\\1", text)


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)

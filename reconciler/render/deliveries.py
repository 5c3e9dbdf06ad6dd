"""Notifications and their deliveries as people read them: an emit's result and a
webhook's delivery log (``webhooks emit``, ``webhooks deliveries``).

Nothing here reaches a backoffice or prints. Every value that came from a receiver
(response excerpts, errors) is made safe for a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contract import kinds
from reconciler.render.terminal import printable

COLUMNS = ("id", "created", "type", "status", "attempts", "http", "detail")
DETAIL_WIDTH = 160  # an error keeps its cause (the JSON format has it whole)


def render_emitted(result: Mapping[str, Any]) -> str:
    """The notification id and one line per delivery (webhook name, status)."""
    notification = result.get("notification") or {}
    merchant = notification.get("merchant")
    terminal = merchant.get("terminalId") if isinstance(merchant, Mapping) else None
    facts = [*kinds.facts(notification), f"terminal {terminal}"]
    lines = [printable(f"Notification {notification.get('notificationID')} "
                       f"({', '.join(facts)})")]
    if result.get("scenario"):
        lines.append(printable(f"Scenario {result['scenario']} "
                               f"(type {result.get('notification_type') or '?'}), to:"))
    deliveries = result.get("deliveries") or []
    if not deliveries:
        lines.append("  No webhook receives it: none enabled covers the terminal and "
                     "subscribes to the type.")
    width = max((len(str(d.get("webhook") or "")) for d in deliveries), default=0)
    status_width = max((len(str(d.get("status"))) for d in deliveries), default=0)
    for d in deliveries:
        name = str(d.get("webhook") or d.get("webhook_id") or "?")
        status = str(d.get("status")).ljust(status_width)
        lines.append(printable(f"  {name.ljust(width)}  {status}  ({d.get('id')})"))
    if any(d.get("status") in ("pending", "failed") for d in deliveries):
        lines.append("Pending and failed deliveries are retried; "
                     "`webhooks deliveries NAME` shows how they went.")
    return "\n".join(lines) + "\n"


def _detail(d: Mapping[str, Any]) -> str:
    text = d.get("last_error") or d.get("response_excerpt") or ""
    if d.get("status") == "failed" and d.get("next_attempt_at"):
        text = f"{text}; next attempt {d['next_attempt_at']}" if text else \
            f"next attempt {d['next_attempt_at']}"
    text = " ".join(str(text).split())  # one line, whatever the receiver answered
    if len(text) > DETAIL_WIDTH:
        text = text[: DETAIL_WIDTH - 3] + "..."
    return text


def rows(deliveries: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """One row of COLUMNS per delivery, every cell safe to print."""
    out = []
    for d in deliveries:
        kind = str(d.get("notification_type") or "?") + (" (test)" if d.get("test") else "")
        code = d.get("last_status_code")
        cells = (str(d.get("id") or ""), str(d.get("created_at") or ""), kind,
                 str(d.get("status") or ""), str(d.get("attempts", "")),
                 "-" if code is None else str(code), _detail(d))
        out.append(tuple(printable(c) for c in cells))
    return out


def render_table(deliveries: Sequence[Mapping[str, Any]], name: str) -> str:
    """The delivery log, newest first, as a plain table."""
    if not deliveries:
        return printable(f"No deliveries for {name} yet.") + "\n"
    body = rows(deliveries)
    header = tuple(c.upper() for c in COLUMNS)
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in (header, *body)]
    return "\n".join(lines) + "\n"


# --- the log with attempts (``webhooks deliveries``), following it, waiting for outcomes -----

EXCERPT_WIDTH = 80


def _one_line(text: object, width: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def attempt_line(attempt: Mapping[str, Any]) -> str:
    """``#2  <started>  HTTP 500  12 ms  failed: <error>  answer: <excerpt>``, one line."""
    code = attempt.get("status_code")
    parts = [f"#{attempt.get('number')}", str(attempt.get("started_at") or "?"),
             "no answer" if code is None else f"HTTP {code}",
             f"{attempt.get('duration_ms')} ms", str(attempt.get("outcome") or "?")]
    if attempt.get("error"):
        parts[-1] += ": " + _one_line(attempt["error"], DETAIL_WIDTH)
    if attempt.get("response_excerpt"):
        parts.append("answer: " + _one_line(attempt["response_excerpt"], EXCERPT_WIDTH))
    return printable("  ".join(parts))


def render_log(deliveries: Sequence[Mapping[str, Any]], names: Mapping[str, str] | None,
               empty: str) -> str:
    """The delivery log, newest first: a row per delivery (with its webhook's name when
    ``names`` is given: the log across webhooks), and its attempts beneath, oldest first."""
    if not deliveries:
        return printable(empty) + "\n"
    columns = list(COLUMNS)
    body = [list(row) for row in rows(deliveries)]
    if names is not None:
        columns.insert(2, "webhook")
        for row, d in zip(body, deliveries, strict=True):
            webhook = str(d.get("webhook_id") or "")
            row.insert(2, printable(names.get(webhook, webhook)))
    header = [c.upper() for c in columns]
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    for row, d in zip(body, deliveries, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        lines += ["    " + attempt_line(a) for a in d.get("history") or []]
    return "\n".join(lines) + "\n"


def render_changes(changed: Sequence[Mapping[str, Any]], before: Sequence[Mapping[str, Any]],
                   names: Mapping[str, str]) -> str:
    """What ``deliveries --follow`` prints for new deliveries and new outcomes."""
    lines = []
    for d, old in zip(changed, before, strict=True):
        webhook = str(d.get("webhook_id") or "")
        kind = str(d.get("notification_type") or "?") + (" (test)" if d.get("test") else "")
        who = f"{names.get(webhook, webhook)}  {d.get('id')}  {kind}"
        if not old:
            lines.append(f"{d.get('created_at')}  {who}  new, {d.get('status')}")
        attempts = old.get("attempts")
        seen = attempts if isinstance(attempts, int) else 0
        fresh = [a for a in d.get("history") or [] if int(a.get("number") or 0) > seen]
        lines += [f"{a.get('started_at')}  {who}  {attempt_line(a)}  -> {d.get('status')}"
                  for a in fresh]
        if old and not fresh:
            lines.append(f"{d.get('next_attempt_at') or d.get('last_attempt_at') or '-'}  "
                         f"{who}  now {d.get('status')}")
    return "\n".join(printable(line) for line in lines) + "\n"


def outcome_text(d: Mapping[str, Any]) -> str:
    """``delivered, HTTP 200`` / ``failed, HTTP 500: <error>`` / ``pending, no outcome yet``."""
    status = str(d.get("status") or "?")
    if d.get("status") == "pending" and not d.get("attempts"):
        return f"{status}, no outcome yet"
    code = d.get("last_status_code")
    text = status + ("" if code is None else f", HTTP {code}")
    if status != "delivered" and d.get("last_error"):
        text += ": " + _one_line(d["last_error"], DETAIL_WIDTH)
    if status == "failed" and d.get("next_attempt_at"):
        text += f" (next attempt {d['next_attempt_at']})"
    return text


def render_outcomes(result: Mapping[str, Any], found: Sequence[Mapping[str, Any]],
                    waited: float) -> str:
    """``emit --wait``: the notification, then each delivery's first outcome."""
    header = render_emitted({**result, "deliveries": []}).splitlines()[0]
    by_id = {str(d.get("id")): d for d in found}
    emitted = result.get("deliveries") or []
    if not emitted:
        return render_emitted(result)
    width = max(len(str(d.get("webhook") or "")) for d in emitted)
    lines = [header]
    for d in emitted:
        now = by_id.get(str(d.get("id")), d)
        lines.append(printable(f"  {str(d.get('webhook') or '?').ljust(width)}  "
                               f"{outcome_text(now)}  ({d.get('id')})"))
    if any(not by_id.get(str(d.get("id"))) or by_id[str(d.get("id"))].get("status")
           == "pending" for d in emitted):
        lines.append(f"Some deliveries had no outcome within {waited:g} s.")
    return "\n".join(lines) + "\n"

"""``webhooks emit``: emit a payment notification; it fans out to the matching webhooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler import suggest
from reconciler.commands import Globals
from reconciler.delivery_log import failures, wait_for_outcomes
from reconciler.emit import emit_body, render_scenarios, scenario_rows
from reconciler.errors import EXIT_ERROR, EXIT_OK
from reconciler.providers import Provider
from reconciler.render.deliveries import render_emitted, render_outcomes
from reconciler.session import require_manage, with_provider


def run(g: Globals, config_file: Path, *, terminal: str | None, type: str | None,
        status: str | None, amount: str | None, currency: str | None, method: str | None,
        fmt: str, wait: bool = False, wait_seconds: float = 30.0,
        scenario: str | None = None, list_scenarios: bool = False) -> int:
    if list_scenarios:
        if fmt == "json":
            click.echo(json.dumps([{"scenario": name, "type": code, "description": text}
                                   for name, code, text in scenario_rows()], indent=2))
        else:
            click.echo(render_scenarios(), nl=False)
        return EXIT_OK
    if terminal is None:
        raise click.UsageError("Missing option '--terminal'.")
    if type is not None:
        suggest.notification_type(type, "--type")
    body = emit_body(terminal=terminal, type=type, scenario=scenario, status=status,
                     amount=amount, currency=currency, method=method)

    async def work(provider: Provider) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        await require_manage(provider, "emit")
        emitted = await provider.emit(body)
        if not wait:
            return emitted, []
        nid = str((emitted.get("notification") or {}).get("notificationID"))
        return emitted, await wait_for_outcomes(provider, nid,
                                                len(emitted.get("deliveries") or []),
                                                seconds=wait_seconds)

    result, found = with_provider(g, config_file, work)
    if wait:
        return _outcomes(result, found, wait_seconds, fmt)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(render_emitted(result), nl=False)
    return EXIT_OK


def _outcomes(result: dict[str, Any], found: list[dict[str, Any]], waited: float,
              fmt: str) -> int:
    """``--wait``: each delivery's first outcome; exit 1 when one failed or has none."""
    by_id = {str(d.get("id")): d for d in found}
    merged = [{**d, **by_id.get(str(d.get("id")), {})} for d in result.get("deliveries") or []]
    if fmt == "json":
        click.echo(json.dumps({**result, "deliveries": merged}, indent=2, ensure_ascii=False))
    else:
        click.echo(render_outcomes(result, found, waited), nl=False)
    return EXIT_ERROR if failures(merged) else EXIT_OK

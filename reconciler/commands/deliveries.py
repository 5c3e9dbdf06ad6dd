"""``webhooks deliveries [NAME]``: the delivery log, newest first, each delivery with its
attempts; across the merchant's webhooks without NAME; ``--follow`` keeps printing new
deliveries and outcomes until Ctrl-C. On the embedded backoffice, due deliveries are
attempted first (and at every poll when following)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.commands import Globals
from reconciler.delivery_log import ROUND_S, follow, resolve
from reconciler.errors import EXIT_OK
from reconciler.providers import Provider
from reconciler.providers.base import DeliveryQuery
from reconciler.render.deliveries import render_changes, render_log
from reconciler.render.terminal import printable
from reconciler.session import with_provider


def _json_lines(deliveries: list[dict[str, Any]]) -> None:
    for delivery in deliveries:
        click.echo(json.dumps(delivery, ensure_ascii=False, separators=(",", ":")))


def run(g: Globals, config_file: Path, name: str | None, *, status: str | None,
        since: str | None, limit: int, fmt: str, follow_log: bool = False,
        interval: float = 2.0, max_polls: int | None = None) -> int:
    query = DeliveryQuery(status=status, since=since)
    filtered = status is not None or since is not None
    empty = ("No deliveries match." if filtered else
             f"No deliveries for {name} yet." if name else "No deliveries yet.")

    async def work(provider: Provider) -> None:
        narrowed, names = await resolve(provider, name, query)
        await provider.run_due(seconds=ROUND_S)
        found = await provider.find_deliveries(narrowed, limit=limit)
        if fmt == "json" and follow_log:
            _json_lines(list(reversed(found)))
        elif fmt == "json":
            click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        else:
            click.echo(render_log(found, None if name else names, empty), nl=False)
        if not follow_log:
            return
        click.echo(printable(f"Following the delivery log of the {provider.description} "
                             f"(every {interval:g} s; Ctrl-C to stop)."), err=True)

        def show(changed: list[dict[str, Any]], before: list[dict[str, Any]]) -> None:
            if fmt == "json":
                _json_lines(changed)
            else:
                click.echo(render_changes(changed, before, names), nl=False)

        await follow(provider, narrowed, limit=max(limit, 100), interval=interval, show=show,
                     seen={str(d.get("id")): d for d in found}, max_polls=max_polls)

    with_provider(g, config_file, work)
    return EXIT_OK

"""``webhooks recover NAME --since TIME``: resend every failed or given-up delivery (not
test-fires) of a webhook since a moment; prints how many."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.commands import Globals
from reconciler.details import find
from reconciler.errors import EXIT_OK
from reconciler.providers import Provider
from reconciler.render.terminal import printable
from reconciler.session import require_manage, with_provider


def run(g: Globals, config_file: Path, name: str, *, since: str, fmt: str) -> int:
    async def work(provider: Provider) -> dict[str, Any]:
        await require_manage(provider, "recover")
        webhook = find(await provider.fetch(), name, provider.description)
        return await provider.recover(webhook.id, since)

    result = with_provider(g, config_file, work)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return EXIT_OK
    count = result.get("recovered")
    noun = "delivery" if count == 1 else "deliveries"
    then = ": due now." if count else " (nothing to resend)."
    click.echo(printable(f"Recovered {count} failed or given-up {noun} of {name} since "
                         f"{result.get('since')}{then}"))
    return EXIT_OK

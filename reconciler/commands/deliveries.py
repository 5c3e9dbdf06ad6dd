"""``webhooks deliveries NAME``: one webhook's delivery log, newest first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.commands import Globals
from reconciler.details import find
from reconciler.errors import EXIT_OK
from reconciler.providers import Provider
from reconciler.render.deliveries import render_table
from reconciler.session import with_provider


def run(g: Globals, config_file: Path, name: str, *, limit: int, fmt: str) -> int:
    async def work(provider: Provider) -> list[dict[str, Any]]:
        webhook = find(await provider.fetch(), name, provider.description)
        return await provider.deliveries(webhook.id, limit=limit)

    log = with_provider(g, config_file, work)
    if fmt == "json":
        click.echo(json.dumps(log, indent=2, ensure_ascii=False))
    else:
        click.echo(render_table(log, name), nl=False)
    return EXIT_OK

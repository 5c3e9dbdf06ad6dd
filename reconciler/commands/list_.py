"""``webhooks list``: the Webhooks list with the Backoffice's four filters."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.errors import EXIT_OK
from reconciler.model import RemoteWebhook
from reconciler.providers import ListFilters, Provider
from reconciler.render.listing import render_json, render_table
from reconciler.render.terminal import printable
from reconciler.selection import by_name, select_owner
from reconciler.session import with_provider
from reconciler.target import Target


def run(g: Globals, config_file: Path, *, filters: ListFilters, owner: str | None,
        unmanaged: bool, fmt: str) -> int:
    async def fetch(provider: Provider) -> tuple[list[RemoteWebhook], Target]:
        return await provider.fetch(filters), provider.target

    found, target = with_provider(g, config_file, fetch, read_only=True)
    webhooks = by_name(select_owner(found, owner=owner, unmanaged=unmanaged))
    if fmt == "json":
        click.echo(render_json(webhooks), nl=False)
    else:
        click.echo(printable(target.line), err=True)  # stdout stays the view itself
        width = shutil.get_terminal_size().columns
        click.echo(render_table(webhooks, rich=g.color, width=width), nl=False)
    return EXIT_OK

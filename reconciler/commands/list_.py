"""``webhooks list``: the Webhooks list with the Backoffice's four filters."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from reconciler import suggest
from reconciler.commands import Globals
from reconciler.errors import EXIT_OK, ReconcilerError
from reconciler.model import RemoteWebhook
from reconciler.providers import ListFilters, Provider
from reconciler.render.listing import render_json, render_table
from reconciler.render.terminal import printable
from reconciler.selection import by_name, select_owner
from reconciler.session import with_provider
from reconciler.target import Target


def run(g: Globals, config_file: Path, *, filters: ListFilters, owner: str | None,
        unmanaged: bool, fmt: str) -> int:
    if filters.notification is not None:
        suggest.notification_type(filters.notification, "--notification")

    async def fetch(provider: Provider) -> tuple[list[RemoteWebhook], Target]:
        return await provider.fetch(filters), provider.target

    every, target = with_provider(g, config_file, fetch, read_only=True)
    webhooks = by_name(select_owner(every, owner=owner, unmanaged=unmanaged))
    if owner is not None and not webhooks and (note := suggest.unknown_owner(every, owner)):
        if "did you mean" in note:  # a typo, surely: say so and fail
            raise ReconcilerError(f"--owner: {note}")
        click.echo(f"note: {note}", err=True)
    if fmt == "json":
        click.echo(render_json(webhooks), nl=False)
    else:
        click.echo(printable(target.line), err=True)  # stdout stays the view itself
        width = shutil.get_terminal_size().columns
        click.echo(render_table(webhooks, rich=g.color, width=width), nl=False)
    return EXIT_OK

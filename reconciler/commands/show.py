"""``webhooks show NAME``: every detail of one webhook (the secret only as a fingerprint)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.details import gather
from reconciler.errors import EXIT_OK
from reconciler.providers import Provider
from reconciler.render.details import Details, render_text
from reconciler.render.terminal import printable
from reconciler.session import with_provider
from reconciler.target import Target


def run(g: Globals, config_file: Path, name: str, *, fmt: str) -> int:
    async def work(provider: Provider) -> tuple[Details, Target]:
        return await gather(provider, name), provider.target

    details, target = with_provider(g, config_file, work, read_only=True)
    if fmt == "json":
        click.echo(json.dumps(details.data, indent=2, ensure_ascii=False))
    else:
        click.echo(printable(target.line), err=True)  # stdout stays the view itself
        click.echo(render_text(details), nl=False)
    return EXIT_OK

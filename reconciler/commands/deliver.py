"""``webhooks deliver``: attempt the due deliveries (retries included) on the embedded
backoffice, until none is due or ``--seconds`` have passed; prints how many. A server
delivers by itself (its worker), so against one this attempts nothing."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.errors import EXIT_OK
from reconciler.providers import Provider
from reconciler.render.terminal import printable
from reconciler.session import with_provider


def run(g: Globals, config_file: Path, *, seconds: float) -> int:
    async def work(provider: Provider) -> tuple[int, str, bool]:
        return (await provider.run_due(seconds=seconds), provider.description,
                provider.target.kind == "http")

    attempted, where, served = with_provider(g, config_file, work)
    noun = "delivery" if attempted == 1 else "deliveries"
    click.echo(f"Attempted {attempted} due {noun}.")
    if served:
        click.echo(printable(f"The {where} delivers with its own worker; "
                             "`webhooks deliveries` shows how it went."))
    return EXIT_OK

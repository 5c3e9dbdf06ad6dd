"""``webhooks show NAME``: every detail of one webhook (the secret only as a fingerprint)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.details import gather
from reconciler.errors import EXIT_OK
from reconciler.render.details import render_text
from reconciler.session import with_provider


def run(g: Globals, config_file: Path, name: str, *, fmt: str) -> int:
    details = with_provider(g, config_file, lambda provider: gather(provider, name))
    if fmt == "json":
        click.echo(json.dumps(details.data, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(details), nl=False)
    return EXIT_OK

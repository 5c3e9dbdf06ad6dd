"""``webhooks emit``: emit a payment notification; it fans out to the matching webhooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.commands import Globals
from reconciler.emit import emit_body
from reconciler.errors import EXIT_OK
from reconciler.providers import Provider
from reconciler.render.deliveries import render_emitted
from reconciler.session import with_provider


def run(g: Globals, config_file: Path, *, terminal: str, type: str, status: str | None,
        amount: str | None, currency: str | None, method: str | None, fmt: str) -> int:
    body = emit_body(terminal=terminal, type=type, status=status, amount=amount,
                     currency=currency, method=method)

    async def work(provider: Provider) -> dict[str, Any]:
        return await provider.emit(body)

    result = with_provider(g, config_file, work)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(render_emitted(result), nl=False)
    return EXIT_OK

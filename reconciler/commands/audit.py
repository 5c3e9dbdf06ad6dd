"""`webhooks audit`: the backoffice's audit log, newest first: who changed what, when,
and whether it was allowed (field names, never values)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.commands import Globals
from reconciler.errors import EXIT_OK
from reconciler.providers import Provider
from reconciler.render.access import render_audit
from reconciler.session import with_provider


def run(g: Globals, config_file: Path, *, since: str | None, limit: int, fmt: str) -> int:
    async def work(provider: Provider) -> list[dict[str, Any]]:
        return await provider.audit(since=since, limit=limit)

    entries = with_provider(g, config_file, work)
    if fmt == "json":
        click.echo(json.dumps(entries, indent=2, ensure_ascii=False))
    else:
        click.echo(render_audit(entries, since=since), nl=False)
    return EXIT_OK

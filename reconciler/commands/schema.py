"""`webhooks schema`: print the JSON Schema of the config (or of a plan file).

For editors and tools outside this repository: save it beside the config and point
the ``# yaml-language-server: $schema=...`` line (or the editor's settings) at it.
"""

from __future__ import annotations

import click

from reconciler.commands import Globals
from reconciler.config import SCHEMA_PATH
from reconciler.errors import EXIT_OK
from reconciler.plan import planfile


def run(g: Globals, *, plan: bool) -> int:
    path = planfile.schema_path() if plan else SCHEMA_PATH
    click.echo(path.read_text(encoding="utf-8"), nl=False)
    return EXIT_OK

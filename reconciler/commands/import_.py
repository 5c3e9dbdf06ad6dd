"""``webhooks import``: write config for webhooks that already exist; never a secret."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.errors import EXIT_OK
from reconciler.importer import SCHEMA_FILE, ImportResult, Selection, import_config, write_file
from reconciler.providers import Provider, embedded_data_dir
from reconciler.session import with_provider
from reconciler.target import Target


def run(g: Globals, config_file: Path, *, output: Path | None, owner: str | None,
        selection: Selection, force: bool) -> int:
    async def work(provider: Provider) -> tuple[ImportResult, Target]:
        return (import_config(await provider.fetch(), fingerprints=await provider.fingerprints(),
                              selection=selection, owner=owner),
                provider.target)

    result, target = with_provider(g, config_file, work, read_only=True)
    if output is None:
        click.echo(result.text, nl=False)
    else:
        write_file(output, result.text, force=force)
        n = len(result.webhooks)
        click.echo(f"Wrote {n} webhook{'s' if n != 1 else ''} of owner \"{result.owner}\" "
                   f"to {output}.", err=True)
    _notes(result, output)
    if output is not None and not (output.parent / SCHEMA_FILE).exists():
        click.echo(f"Note: the file names {SCHEMA_FILE} for editors; save it beside it with "
                   f"`webhooks schema > {output.parent / SCHEMA_FILE}`.", err=True)
    if output is not None and target.kind == "embedded" and (
        embedded_data_dir(output) != embedded_data_dir(config_file)
    ):
        click.echo(f"Note: the embedded backoffice is found beside the config file: these "
                   f"webhooks are in {embedded_data_dir(config_file)}, but "
                   f"`webhooks plan -f {output}` would use {embedded_data_dir(output)}.",
                   err=True)
    return EXIT_OK


def _notes(result: ImportResult, output: Path | None) -> None:
    """What to do next, on standard error (standard output may be the file itself)."""
    where = f" -f {output}" if output is not None else ""
    owned = result.already_owned
    if result.adoptions and owned:
        click.echo(f"Note: it also holds the {len(owned)} webhook{'s' if len(owned) != 1 else ''}"
                   f" that owner \"{result.owner}\" manages already: a config declares all of "
                   "its owner's webhooks, and one left out would be deleted.", err=True)
    for variable, name in sorted(result.url_variables.items()):
        click.echo(f"Note: the URL of {name} carries credentials: set {variable} to it "
                   "before `webhooks plan`.", err=True)
    if result.adoptions:
        n = len(result.adoptions)
        click.echo(f"Note: {n} webhook{'s are' if n != 1 else ' is'} not managed by owner "
                   f"\"{result.owner}\" yet: review `webhooks plan{where} --adopt`, then run "
                   f"`webhooks apply{where} --adopt` to take {'them' if n != 1 else 'it'} over.",
                   err=True)
    taken = result.taken_from_others
    if taken:
        click.echo(f"Warning: adopting takes over webhooks that other owners' configs "
                   f"manage: {', '.join(taken)}.", err=True)

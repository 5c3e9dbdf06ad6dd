"""What the command declarations share: the ``-f``/``--file`` and ``--target`` options,
and the ``Globals`` the root group puts on the context.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands import Globals

CONFIG_HELP = "The config file (default: webhooks.yaml)."
config_option = click.option(
    "-f", "--file", "config_file", default="webhooks.yaml", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path), help=CONFIG_HELP,
)
# validate reports a directory given as -f like any other unreadable file (exit 1, one line)
validate_config_option = click.option(
    "-f", "--file", "config_file", default="webhooks.yaml", show_default=True,
    type=click.Path(path_type=Path), help=CONFIG_HELP,
)
target_option = click.option(
    "--target", "targets", multiple=True, metavar="NAME",
    help="Only this webhook (repeatable).",
)


def globals_of(ctx: click.Context) -> Globals:
    """The options every command sees, set by the root group."""
    obj = ctx.find_object(Globals)
    assert obj is not None
    return obj

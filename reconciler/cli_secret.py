"""`webhooks secret ...`: a webhook's secret, through the selected backoffice.

A group of its own, so that what is done with secrets sits together: ``reveal`` now;
another command is one more function below and one entry in its ``add_command`` list.
Each hands over to ``reconciler.commands.secret_<name>``.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli_options import config_option, globals_of


@click.group()
def secret() -> None:
    """A webhook's secret (the backoffice keeps it; plan and show only fingerprint it)."""


@secret.command(name="reveal")
@click.argument("name")
@config_option
@click.pass_context
def secret_reveal(ctx: click.Context, name: str, config_file: Path) -> int:
    """Print a URL webhook's secret, and nothing else, on standard output.

    \b
    Needs a token with the reveal scope (or manage); each reveal is recorded in the
    audit log (who, which webhook; never the value). E-mail webhooks have no secret.

    \b
    Examples:
      export ORDERS_SECRET=$(webhooks secret reveal orders-backend)
      WEBHOOKS_LISTEN_SECRET=$(webhooks secret reveal orders-backend) webhooks listen
    """
    from reconciler.commands import secret_reveal as command

    return command.run(globals_of(ctx), config_file, name)


COMMANDS: tuple[click.Command, ...] = (secret,)

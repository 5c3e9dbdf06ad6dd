"""`webhooks secret ...`: a webhook's secret: make a strong one, reveal or rotate the
one the backoffice keeps.

A group of its own, so that what is done with secrets sits together; another command is
one more function below. Each declares its options and hands over to
``reconciler.commands.secret_<name>``.
"""

from __future__ import annotations

from pathlib import Path

import click

from contract import formats
from reconciler.cli_options import config_option, globals_of


@click.group()
def secret() -> None:
    """A webhook's secret: make a strong one, reveal or replace the one the backoffice keeps.

    \b
    Secrets are never shown by list, show, plan or apply: only their fingerprints.
    """


@secret.command()
@click.option("--format", "fmt", type=click.Choice(formats.NAMES), default=formats.DEFAULT,
              show_default=True, help="The delivery format the secret is for.")
def generate(fmt: str) -> int:
    """Print a fresh strong secret for a delivery format (needs no backoffice).

    \b
    sibs: the standard base64 of 32 random bytes (an AES-256 key);
    standard-webhooks: whsec_ and the base64 of 32 random bytes. Put it in your secret
    store and reference it from the config (secret: ${env:NAME} or ${file:PATH}); apply
    then keeps the old secret valid for secret_grace while the receiver switches.

    \b
    Examples:
      webhooks secret generate --format sibs
      export ORDERS_WEBHOOK_SECRET="$(webhooks secret generate --format sibs)"
    """
    from reconciler.commands import secret_generate as command

    return command.run(fmt)


@secret.command()
@click.argument("name")
@click.option("--grace", metavar="DURATION", default=None,
              help="How long the old secret stays valid: 0 to 30d, e.g. 12h, 7d "
              "(default: the config's secret_grace for NAME, else 1d).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the fingerprints and the grace, for scripts.")
@config_option
@click.pass_context
def rotate(ctx: click.Context, name: str, grace: str | None, fmt: str,
           config_file: Path) -> int:
    """Replace a webhook's generated secret with a new one; the old one stays valid.

    \b
    For a webhook whose config does not declare its secret (the backoffice generated
    it). A secret the config declares changes in the config: put a new one there and
    apply. During the grace, Standard Webhooks deliveries carry both signatures; sibs
    deliveries keep the old key until a test-fire with the new one is acknowledged
    (`webhooks test NAME` once the receiver holds it) or the grace ends. Needs a token
    that may manage webhooks.

    \b
    Examples:
      webhooks secret rotate orders-backend
      webhooks secret rotate orders-backend --grace 7d --format json
    """
    from reconciler.commands import secret_rotate as command

    return command.run(globals_of(ctx), config_file, name, grace=grace, fmt=fmt)


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

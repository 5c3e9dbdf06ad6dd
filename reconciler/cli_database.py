"""`webhooks backoffice ...`: operations on a backoffice's database (copy; later:
rotate-key). Each declares its options and hands over to ``reconciler.commands.<name>``.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli_options import globals_of


@click.group(name="backoffice")
def backoffice_group() -> None:
    """Operate on a backoffice's database (copy it; later: rotate its key)."""


@backoffice_group.command(name="copy")
@click.option("--from", "from_url", metavar="URL", default=None,
              help="The database to copy (default: WEBHOOKS_COPY_FROM). No password here.")
@click.option("--to", "to_url", metavar="URL", default=None,
              help="A new, empty database to copy into (default: WEBHOOKS_COPY_TO). "
                   "No password here.")
@click.option("--from-password-file", metavar="PATH", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding the source database's password.")
@click.option("--to-password-file", metavar="PATH", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding the target database's password.")
@click.pass_context
def backoffice_copy(ctx: click.Context, from_url: str | None, to_url: str | None,
                    from_password_file: Path | None, to_password_file: Path | None) -> int:
    """Copy a backoffice database into an empty one; check and print the row counts.

    \b
    The target gets the schema of this version; the source must be at this version
    (run its migrations first by opening it once with this version). Secrets and URL
    credentials stay sealed as they are: serve the copy with the source's server key
    (server.key or WEBHOOKS_SERVER_KEY). Stop the source's server first.
    A password never goes in --from or --to (the process list shows them): put the
    whole URL in WEBHOOKS_COPY_FROM / WEBHOOKS_COPY_TO, or the password in a file.

    \b
    Examples:
      webhooks backoffice copy --from sqlite:///old/backoffice.db --to sqlite:///new/backoffice.db
      WEBHOOKS_COPY_TO=postgresql+psycopg://webhooks:$PW@db/webhooks \\
        webhooks backoffice copy --from sqlite:///var/lib/webhooks/backoffice.db
    """
    import os

    from reconciler.commands import backoffice_copy as command

    return command.run(
        globals_of(ctx),
        source=command.Side("--from", command.FROM_ENV, from_url, from_password_file),
        target=command.Side("--to", command.TO_ENV, to_url, to_password_file),
        env=os.environ)


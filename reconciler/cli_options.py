"""What the command declarations share: the ``-f``/``--file`` and ``--target`` options,
and the ``Globals`` the root group puts on the context.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands import Globals

CONFIG_HELP = "The config file."
config_option = click.option(
    "-f", "--file", "config_file", default="webhooks.yaml", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path), help=CONFIG_HELP,
)
# validate reports a directory given as -f like any other unreadable file (exit 1, one line)
validate_config_option = click.option(
    "-f", "--file", "config_file", default="webhooks.yaml", show_default=True,
    type=click.Path(path_type=Path), help=CONFIG_HELP,
)
environment_option = click.option(
    "--environment", "environment", metavar="NAME", envvar="WEBHOOKS_ENVIRONMENT",
    help="The entry of the config's `environments:` to use (env WEBHOOKS_ENVIRONMENT); "
         "needed when the config declares environments.",
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


def since_moment(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--since``: a duration ago (``2h``) or an ISO-8601 moment, as an ISO-8601 moment."""
    if value is None:
        return None
    from reconciler.delivery_log import since_moment as parse
    from reconciler.errors import ReconcilerError

    try:
        return parse(value)
    except ReconcilerError as exc:
        raise click.BadParameter(str(exc).removeprefix("--since: "), ctx, param) from None


SINCE_HELP = "A duration ago (2h, 90m, 7d) or an ISO-8601 moment (2026-11-29T10:00:00Z)."


DB_HELP = ("The database: sqlite:////ABSOLUTE/PATH (four slashes; three make the path "
           "relative to the current directory) or postgresql+psycopg://USER@HOST:5432/NAME "
           "(env WEBHOOKS_DB_URL). A password never goes in --db: put it in "
           "WEBHOOKS_DB_URL, PGPASSWORD or --db-password-file.")
DB_PASSWORD_FILE_HELP = "A file holding the PostgreSQL password (instead of PGPASSWORD)."


def db_url_of(ctx: click.Context, db_url: str, password_file: Path | None,
              pool_size: int | None = None) -> str:
    """``--db`` (or WEBHOOKS_DB_URL) with the password file and pool size put in; a
    password typed in --db is refused."""
    import os

    from click.core import ParameterSource

    from reconciler.commands.database import database_url

    typed = ctx.get_parameter_source("db_url") == ParameterSource.COMMANDLINE
    return database_url(db_url, from_command_line=typed, password_file=password_file,
                        pool_size=pool_size, env=os.environ)

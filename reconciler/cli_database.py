"""The commands that run a backoffice or work on its database: serve, token and
`webhooks backoffice ...` (copy, rotate-key). Each declares its options and hands over
to ``reconciler.commands.<name>``.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from reconciler.cli_options import DB_HELP, DB_PASSWORD_FILE_HELP, db_url_of, globals_of


@click.group(name="backoffice")
def backoffice_group() -> None:
    """Operate on a backoffice's database (copy it, rotate its server key)."""


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


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """FloatRange lets nan through (it compares false with every bound)."""
    if math.isnan(value):
        raise click.BadParameter("must be a number of seconds from 0 to 600", ctx, param)
    return value


@backoffice_group.command(name="rotate-key")
@click.option("--db", "db_url", metavar="URL", envvar="WEBHOOKS_DB_URL",
              default="sqlite:///.webhooks/backoffice.db", show_default=True, help=DB_HELP)
@click.option("--db-password-file", metavar="PATH", default=None,
              type=click.Path(dir_okay=False, path_type=Path), help=DB_PASSWORD_FILE_HELP)
@click.option("--grace", "grace_s", metavar="SECONDS", default=5.0, show_default=True,
              type=click.FloatRange(min=0, max=600), callback=_finite,
              help="How long running servers get to commit writes begun under the old "
                   "key before re-sealing starts.")
@click.pass_context
def backoffice_rotate_key(ctx: click.Context, db_url: str, db_password_file: Path | None,
                          grace_s: float) -> int:
    """Rotate the server key without stopping the servers: a new key in server.key,
    every secret, URL credential and fingerprint key re-sealed under it, the old key
    retired.

    \b
    The key file is server.key in the data directory (WEBHOOKS_DATA_DIR, else the SQLite
    file's folder), which running servers follow; with WEBHOOKS_SERVER_KEY set it is
    refused. Every server must read that same file (one machine, or a shared one).
    Interrupted (Ctrl-C, a crash), it is finished by running it again. Back up the new
    server.key afterwards.

    \b
    Examples:
      webhooks backoffice rotate-key --db sqlite:///var/lib/webhooks/backoffice.db
      WEBHOOKS_DATA_DIR=/var/lib/webhooks PGPASSWORD=... \\
        webhooks backoffice rotate-key --db postgresql+psycopg://webhooks@db/webhooks
    """
    from reconciler.commands import rotate_key as command

    db_url = db_url_of(ctx, db_url, db_password_file)
    return command.run(globals_of(ctx), db_url=db_url, grace_s=grace_s)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--db", "db_url", metavar="URL", envvar="WEBHOOKS_DB_URL",
              default="sqlite:///.webhooks/backoffice.db", show_default=True, help=DB_HELP)
@click.option("--db-password-file", metavar="PATH", default=None,
              type=click.Path(dir_okay=False, path_type=Path), help=DB_PASSWORD_FILE_HELP)
@click.option("--db-pool-size", metavar="N", default=None, type=click.IntRange(1, 1000),
              help="PostgreSQL connections kept open (default 10, or the URL's pool_size; "
                   "up to as many again while busy: max_overflow).")
@click.option("--allow-private-targets", is_flag=True,
              help="Deliver to loopback, private and link-local addresses too "
                   "(local development; refused by default: SSRF guard).")
@click.option("--smtp-url", metavar="URL", default=None,
              help="SMTP relay for e-mail webhooks and support summaries: "
                   "smtp://[user@]host:port, or smtp+starttls://... for STARTTLS; a user "
                   "logs in with the password in WEBHOOKS_SMTP_PASSWORD or "
                   "--smtp-password-file (default: .eml files in <data dir>/outbox/).")
@click.option("--smtp-starttls", is_flag=True,
              help="Upgrade the SMTP connection with STARTTLS (as smtp+starttls://).")
@click.option("--smtp-password-file", metavar="PATH", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A file holding the SMTP password (instead of WEBHOOKS_SMTP_PASSWORD).")
@click.option("--smtp-ca-file", metavar="PATH", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CA certificates (PEM) to check the relay's STARTTLS certificate against "
                   "(default: the system's).")
@click.option("--mail-from", metavar="ADDRESS", default=None,
              help="The From address of e-mails and support summaries "
                   "(default: webhooks-backoffice@localhost).")
@click.option("--retry-schedule", metavar="SECONDS,...", default=None,
              help="Delays before each retry, comma-separated seconds "
                   "(default: 5 min x3, 1 h, 2 h, 4 h, 6 h, 12 h, 1 d x2, then give up).")
@click.option("--worker-interval", metavar="SECONDS", default=1.0, show_default=True,
              type=click.FloatRange(min=0.01, max=3600),
              help="Seconds between delivery rounds.")
@click.option("--delivery-timeout", metavar="SECONDS", default=15.0, show_default=True,
              type=click.FloatRange(min=0.1, max=300), help="Time limit of one attempt.")
@click.option("--summary-interval", metavar="SECONDS", default=86400.0, show_default=True,
              type=click.FloatRange(min=1), help="How often support e-mails get a summary "
                                                  "of failed deliveries.")
@click.option("--test-fire-limit", metavar="N", default=4, show_default=True,
              type=click.IntRange(1, 1000),
              help="Test-fires one merchant may have in flight at once (429 beyond).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, db_url: str, allow_private_targets: bool,
          smtp_url: str | None, retry_schedule: str | None, worker_interval: float,
          delivery_timeout: float, summary_interval: float, test_fire_limit: int,
          smtp_starttls: bool, smtp_password_file: Path | None, smtp_ca_file: Path | None,
          mail_from: str | None, db_password_file: Path | None,
          db_pool_size: int | None) -> int:
    """Run the backoffice API (and its delivery worker).

    \b
    Examples:
      webhooks serve --port 8080 --db sqlite:///var/lib/webhooks/backoffice.db
      PGPASSWORD=... webhooks serve --db postgresql+psycopg://webhooks@127.0.0.1:5432/webhooks
    """
    from reconciler.commands import serve as command

    db_url = db_url_of(ctx, db_url, db_password_file, db_pool_size)
    return command.run(globals_of(ctx), host=host, port=port, db_url=db_url,
                       allow_private_targets=allow_private_targets, smtp_url=smtp_url,
                       retry_schedule=retry_schedule, worker_interval=worker_interval,
                       delivery_timeout=delivery_timeout, summary_interval=summary_interval,
                       test_fire_limit=test_fire_limit,
                       mail=command.MailOptions(starttls=smtp_starttls,
                                                password_file=smtp_password_file,
                                                ca_file=smtp_ca_file, mail_from=mail_from))


@click.group()
def token() -> None:
    """API tokens for the backoffice."""


@token.command(name="create")
@click.option("--scope", type=click.Choice(["read", "manage"]), required=True)
@click.option("--db", "db_url", metavar="URL", envvar="WEBHOOKS_DB_URL",
              default="sqlite:///.webhooks/backoffice.db", show_default=True, help=DB_HELP)
@click.option("--db-password-file", metavar="PATH", default=None,
              type=click.Path(dir_okay=False, path_type=Path), help=DB_PASSWORD_FILE_HELP)
@click.option("--merchant", metavar="ID", default=None,
              help="The merchant the token belongs to (default: the demo merchant).")
@click.pass_context
def token_create(ctx: click.Context, scope: str, db_url: str, merchant: str | None,
                 db_password_file: Path | None) -> int:
    """Print a new API token, once, on the last line of standard output.

    \b
    Example:
      export WEBHOOKS_API_TOKEN=$(webhooks token create --scope read | tail -n1)
    """
    from reconciler.commands import token as command

    db_url = db_url_of(ctx, db_url, db_password_file)
    return command.run(globals_of(ctx), scope=scope, db_url=db_url, merchant=merchant)


COMMANDS: tuple[click.Command, ...] = (serve, token, backoffice_group)

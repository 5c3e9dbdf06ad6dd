"""The commands that run a backoffice or work on its database: serve, token,
`webhooks backoffice ...` (copy, rotate-key), and ui (the web pages on the embedded
backoffice). Each declares its options and hands over to ``reconciler.commands.<name>``.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from reconciler.cli_options import (
    DB_HELP,
    DB_PASSWORD_FILE_HELP,
    config_option,
    db_url_of,
    globals_of,
)

# The abuse bounds `serve` starts with, per merchant and minute (docs/ARCHITECTURE.md).
DEFAULT_EMITS_PER_MINUTE = 600
DEFAULT_TEST_FIRES_PER_MINUTE = 60


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
      webhooks backoffice copy --from sqlite:////srv/old/backoffice.db \\
        --to sqlite:////srv/new/backoffice.db
      WEBHOOKS_COPY_TO=postgresql+psycopg://webhooks:$PW@db/webhooks \\
        webhooks backoffice copy --from sqlite:////var/lib/webhooks/backoffice.db
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
      webhooks backoffice rotate-key --db sqlite:////var/lib/webhooks/backoffice.db
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
@click.option("--tls-cert", metavar="FILE", default=None, type=click.Path(path_type=Path),
              help="Serve https with this certificate (PEM: the server's, then any "
                   "intermediates); needs --tls-key.")
@click.option("--tls-key", metavar="FILE", default=None, type=click.Path(path_type=Path),
              help="The certificate's private key (PEM, unencrypted; keep it 0600).")
@click.option("--emits-per-minute", metavar="N", default=DEFAULT_EMITS_PER_MINUTE,
              show_default=True, type=click.IntRange(0, 1_000_000),
              help="Notifications one merchant may emit a minute (POST /v1/notifications; "
                   "429 with Retry-After beyond; counted in the database, so across every "
                   "server on it). 0: no limit.")
@click.option("--test-fires-per-minute", metavar="N", default=DEFAULT_TEST_FIRES_PER_MINUTE,
              show_default=True, type=click.IntRange(0, 1_000_000),
              help="Test-fires one merchant may start a minute (429 with Retry-After "
                   "beyond; across every server on the database). 0: no limit.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, db_url: str, allow_private_targets: bool,
          smtp_url: str | None, retry_schedule: str | None, worker_interval: float,
          delivery_timeout: float, summary_interval: float, test_fire_limit: int,
          emits_per_minute: int, test_fires_per_minute: int,
          smtp_starttls: bool, smtp_password_file: Path | None, smtp_ca_file: Path | None,
          mail_from: str | None, db_password_file: Path | None,
          db_pool_size: int | None, tls_cert: Path | None, tls_key: Path | None) -> int:
    """Run the backoffice API (and its delivery worker).

    \b
    Binding another address than loopback without TLS logs a warning: tokens and webhook
    secrets would cross the network in clear.

    \b
    Examples:
      webhooks serve --port 8080 --db sqlite:////var/lib/webhooks/backoffice.db
      PGPASSWORD=... webhooks serve --db postgresql+psycopg://webhooks@127.0.0.1:5432/webhooks
      webhooks serve --host 0.0.0.0 --port 8443 --tls-cert /etc/webhooks/tls.crt \\
        --tls-key /etc/webhooks/tls.key
    """
    from reconciler.commands import serve as command

    db_url = db_url_of(ctx, db_url, db_password_file, db_pool_size)
    return command.run(globals_of(ctx), host=host, port=port, db_url=db_url,
                       allow_private_targets=allow_private_targets, smtp_url=smtp_url,
                       retry_schedule=retry_schedule, worker_interval=worker_interval,
                       delivery_timeout=delivery_timeout, summary_interval=summary_interval,
                       test_fire_limit=test_fire_limit,
                       rates=command.RateLimits(emits_per_minute or None,
                                                test_fires_per_minute or None),
                       mail=command.MailOptions(starttls=smtp_starttls,
                                                password_file=smtp_password_file,
                                                ca_file=smtp_ca_file, mail_from=mail_from),
                       tls_cert=tls_cert, tls_key=tls_key)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--expires-in``: a duration (90d, 12h, 3600), checked before the database opens."""
    if value is None:
        return None
    from contract.times import parse_duration
    from reconciler.render.terminal import printable

    try:
        if parse_duration(value).total_seconds() <= 0:
            raise ValueError("a token's lifetime must be more than 0 (omit --expires-in "
                             "for a token that never expires)")
    except ValueError as exc:
        raise click.BadParameter(printable(str(exc)), ctx, param) from None
    return value


db_option = click.option("--db", "db_url", metavar="URL", envvar="WEBHOOKS_DB_URL",
                         default="sqlite:///.webhooks/backoffice.db", show_default=True,
                         help=DB_HELP)
db_password_option = click.option("--db-password-file", metavar="PATH", default=None,
                                  type=click.Path(dir_okay=False, path_type=Path),
                                  help=DB_PASSWORD_FILE_HELP)
def _merchant(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--merchant``: a merchant id as the backoffice makes them (never echoed back)."""
    from backoffice.rules import ID_RE

    if value is not None and ID_RE.fullmatch(value) is None:
        raise click.BadParameter("not a merchant id (1-64 letters, digits, '.', '_' or '-', "
                                 "e.g. demo)", ctx, param)
    return value


merchant_option = click.option("--merchant", metavar="ID", default=None, callback=_merchant,
                               help="The merchant the tokens belong to (default: the demo "
                                    "merchant).")


@click.group()
def token() -> None:
    """API tokens for the backoffice, on its database (--db): create, list, revoke.

    \b
    Scopes: read (list, show, plan, the logs), reveal (read, and `webhooks secret
    reveal`), manage (everything: apply, test, emit, tokens; implies reveal).
    These work on the database itself, as the local operator (cli:local in the
    audit log); a server offers the same over HTTP to a manage token (/v1/tokens).
    """


@token.command(name="create")
@click.option("--scope", type=click.Choice(["read", "reveal", "manage"]), required=True)
@click.option("--name", metavar="NAME", default=None,
              help="What the token is for: 1-64 letters, digits, '.', '_' or '-' "
                   "(default: the scope and the day, e.g. manage-20261128).")
@click.option("--expires-in", metavar="DURATION", default=None, callback=_duration,
              help="Its lifetime, e.g. 90d, 12h, 2w (default: it never expires).")
@db_option
@db_password_option
@merchant_option
@click.pass_context
def token_create(ctx: click.Context, scope: str, name: str | None, expires_in: str | None,
                 db_url: str, merchant: str | None, db_password_file: Path | None) -> int:
    """Print a new API token, once, on the last line of standard output.

    \b
    Examples:
      export WEBHOOKS_API_TOKEN=$(webhooks token create --scope read | tail -n1)
      webhooks token create --name ci-apply --scope manage --expires-in 90d
    """
    from reconciler.commands import token as command

    db_url = db_url_of(ctx, db_url, db_password_file)
    return command.run(globals_of(ctx), scope=scope, db_url=db_url, merchant=merchant,
                       name=name, expires_in=expires_in)


@token.command(name="list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the token objects, for scripts.")
@db_option
@db_password_option
@merchant_option
@click.pass_context
def token_list(ctx: click.Context, fmt: str, db_url: str, merchant: str | None,
               db_password_file: Path | None) -> int:
    """The merchant's tokens, newest first: id, name, scope, status, created, last used
    (to the minute), expiry and revocation. Never a token.

    \b
    Example:
      webhooks token list --format json
    """
    from reconciler.commands import token as command

    db_url = db_url_of(ctx, db_url, db_password_file)
    return command.run_list(globals_of(ctx), db_url=db_url, merchant=merchant, fmt=fmt)


def _token_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A token's public id (never echoed back: it could be anything typed)."""
    from backoffice.auth import looks_like_token_id

    if not looks_like_token_id(value):
        raise click.BadParameter("not a token id: tok_ and 16 characters, as `webhooks token "
                                 "list` shows them (the token itself is not its id)", ctx, param)
    return value


@token.command(name="revoke")
@click.argument("token_id", metavar="ID", callback=_token_id)
@db_option
@db_password_option
@merchant_option
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str, db_url: str, merchant: str | None,
                 db_password_file: Path | None) -> int:
    """Revoke a token by its id (tok_..., from `webhooks token list`).

    \b
    Running servers refuse it within 5 s (their token cache); revoking a revoked
    token changes nothing.

    \b
    Example:
      webhooks token revoke tok_3f0c2a9e1b7d4c55
    """
    from reconciler.commands import token as command

    db_url = db_url_of(ctx, db_url, db_password_file)
    return command.run_revoke(globals_of(ctx), token_id=token_id, db_url=db_url,
                              merchant=merchant)


@click.command()
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="The loopback port to listen on (0: any free one).")
@click.option("--scope", type=click.Choice(["read", "manage"]), default="manage",
              show_default=True, help="What the pages may do: read, or manage too.")
@config_option
@click.pass_context
def ui(ctx: click.Context, port: int, scope: str, config_file: Path) -> int:
    """The backoffice's web pages on the embedded backoffice, for this machine only.

    \b
    Listens on 127.0.0.1 and prints a one-time login link (it works once, for a few
    minutes); the API token behind it is made for this run and removed when it stops.
    For a team, `webhooks serve` serves the same pages at / beside the API.

    \b
    Examples:
      webhooks ui
      webhooks ui --port 8765 --scope read
    """
    from reconciler.commands import ui as command

    return command.run(globals_of(ctx), config_file, port=port, scope=scope)


COMMANDS: tuple[click.Command, ...] = (serve, token, backoffice_group, ui)

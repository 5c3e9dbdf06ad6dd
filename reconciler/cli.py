"""The ``webhooks`` command line: parse, dispatch, print, map errors to exit codes.

Nothing here decides anything: each command lives in ``reconciler.commands.<name>``
and returns an exit code; the one place that turns exceptions into exit codes is
``main``.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import click

from contract import formats
from reconciler import __version__
from reconciler.commands import Globals
from reconciler.errors import EXIT_BUG, EXIT_INTERRUPTED, ReconcilerError
from reconciler.render import FORMATS as PLAN_FORMATS

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


def _globals(ctx: click.Context) -> Globals:
    obj = ctx.find_object(Globals)
    assert obj is not None
    return obj


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="webhooks")
@click.option("--no-color", is_flag=True, help="Plain output (also when NO_COLOR is set).")
@click.option(
    "--api-url", envvar="WEBHOOKS_API_URL", metavar="URL",
    help="Use the backoffice at URL (token from WEBHOOKS_API_TOKEN); "
    "default: the embedded backoffice in .webhooks/ beside the config.",
)
@click.option("--debug", is_flag=True, help="Show a traceback for internal errors.")
@click.pass_context
def cli(ctx: click.Context, no_color: bool, api_url: str | None, debug: bool) -> None:
    """Webhooks as code for a payment gateway backoffice.

    \b
    Declare webhooks in webhooks.yaml, then:
      webhooks validate          check the file (offline with --offline)
      webhooks plan              show what would change
      webhooks apply             make the backoffice match
      webhooks test NAME         test-fire a webhook
    """
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Globals(color=color, api_url=api_url or None, debug=debug)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@validate_config_option
@click.option("--offline", is_flag=True, help="Skip the checks against the backoffice catalogue.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github", "gitlab"]), default="text",
    show_default=True,
    help="github: annotations (workflow commands); gitlab: a Code Quality report on stdout.",
)
@click.pass_context
def validate(ctx: click.Context, files: tuple[Path, ...], config_file: Path, offline: bool,
             fmt: str) -> int:
    """Check configs: schema, secrets, references; every problem at once.

    \b
    Checks -f FILE and any FILES given (default: webhooks.yaml). Each problem prints
    as FILE:LINE:COL: message. Exit 0 when all are valid, 1 when any is not.
    Unset ${env:...} secrets are warnings here, so pull-request pipelines need no secrets.

    \b
    Examples:
      webhooks validate -f webhooks.yaml --offline
      webhooks validate --offline teams/*/webhooks.yaml      (as pre-commit runs it)
      webhooks validate --offline --format github            (annotations in a workflow)
    """
    from click.core import ParameterSource

    from reconciler.commands import validate as command

    given = ctx.get_parameter_source("config_file") is not ParameterSource.DEFAULT
    paths = (config_file, *files) if given or not files else files
    return command.run(_globals(ctx), paths, offline=offline, fmt=fmt)


@cli.command()
@click.option("--plan", "plan_schema", is_flag=True,
              help="The schema of plan files and `plan --format json` instead.")
@click.pass_context
def schema(ctx: click.Context, plan_schema: bool) -> int:
    """Print the JSON Schema of webhooks.yaml (or of a plan file), for editors and tools.

    \b
    Examples:
      webhooks schema > webhooks.schema.json
      webhooks schema --plan > plan.schema.json
    """
    from reconciler.commands import schema as command

    return command.run(_globals(ctx), plan=plan_schema)


@cli.command()
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(PLAN_FORMATS), default="text",
    show_default=True,
)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the plan (JSON, no secrets) for `webhooks apply PLANFILE`.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there are no changes, 2 when there are, 1 on error.")
@click.option("--adopt", is_flag=True,
              help="Take over same-name webhooks that this owner did not create.")
@click.option("--force", is_flag=True, help="Accept deletes over the bulk-delete threshold.")
@target_option
@click.pass_context
def plan(ctx: click.Context, config_file: Path, fmt: str, out: Path | None,
         detailed_exitcode: bool, adopt: bool, force: bool, targets: tuple[str, ...]) -> int:
    """Show what apply would change.

    \b
    Exit 0 with or without changes, 1 on error or when the plan is unsafe;
    with --detailed-exitcode: 0 no changes, 2 changes, 1 error.

    \b
    Examples:
      webhooks plan
      webhooks plan --format markdown --out plan.json
      webhooks plan --detailed-exitcode      (drift check)
    """
    from reconciler.commands import plan as command

    return command.run(_globals(ctx), config_file, fmt=fmt,
                       out=out, detailed_exitcode=detailed_exitcode, targets=targets,
                       adopt=adopt, force=force)


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@config_option
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Apply a plan over the bulk-delete threshold.")
@click.option("--parallelism", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Changes applied at once.")
@click.option("--test", "test_after", is_flag=True, help="Test-fire changed URL webhooks after.")
@click.option("--adopt", is_flag=True,
              help="Take over same-name webhooks that this owner did not create.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: a machine-readable report on stdout.")
@target_option
@click.pass_context
def apply(ctx: click.Context, planfile: Path | None, config_file: Path, auto_approve: bool,
          force: bool, parallelism: int, test_after: bool, adopt: bool, fmt: str,
          targets: tuple[str, ...]) -> int:
    """Make the backoffice match the config (or a saved plan).

    \b
    Without PLANFILE: plans, shows the plan, asks for 'yes' on a terminal (refuses
    when standard input is not a terminal, unless --auto-approve). With PLANFILE
    (from `webhooks plan --out`): refuses the whole plan if anything changed since.
    Exit 0 when everything applied, 1 when anything failed, 130 on Ctrl-C.

    \b
    Examples:
      webhooks apply                      plan, show, ask for yes
      webhooks apply --auto-approve       in a pipeline
      webhooks apply plan.json            what was reviewed, nothing else
    """
    from reconciler.commands import apply as command

    return command.run(_globals(ctx), planfile, config_file, auto_approve=auto_approve,
                       force=force, parallelism=parallelism, targets=targets,
                       test_after=test_after, adopt=adopt, fmt=fmt)


@cli.command(name="list")
@click.option("--credential", metavar="ID",
              help="Webhooks that cover this credential's (client id's) terminal.")
@click.option("--notification", metavar="TYPE", help="Webhooks subscribed to this type.")
@click.option("--type", "webhook_type", type=click.Choice(["url", "email"]),
              help="Only URL or only e-mail webhooks.")
@click.option("--webhook", metavar="TEXT", help="URL or e-mail containing TEXT.")
@click.option("--owner", metavar="NAME", help="Only the webhooks the config of NAME manages.")
@click.option("--unmanaged", is_flag=True, help="Only the webhooks no config manages.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: a list of webhook objects, for scripts.")
@config_option
@click.pass_context
def list_(ctx: click.Context, credential: str | None, notification: str | None,
          webhook_type: str | None, webhook: str | None, owner: str | None, unmanaged: bool,
          fmt: str, config_file: Path) -> int:
    """The Webhooks list, with the Backoffice's four filters.

    \b
    The filters combine. --owner and --unmanaged read the webhooks' labels; the
    others are the backoffice's. No secret is ever shown, and a URL's password
    is redacted. The config file need not exist (it locates the embedded backoffice).

    \b
    Examples:
      webhooks list --type url --notification mbway
      webhooks list --credential 0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c2001
      webhooks list --unmanaged --format json
    """
    from reconciler.commands import list_ as command
    from reconciler.providers import ListFilters

    if owner is not None and unmanaged:
        raise click.UsageError("--owner and --unmanaged are mutually exclusive", ctx)
    filters = ListFilters(credential=credential, notification=notification,
                          type=webhook_type, webhook=webhook)
    return command.run(_globals(ctx), config_file, filters=filters, owner=owner,
                       unmanaged=unmanaged, fmt=fmt)


@cli.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@config_option
@click.pass_context
def show(ctx: click.Context, name: str, fmt: str, config_file: Path) -> int:
    """Every detail of one webhook (the secret only as a fingerprint).

    \b
    Delivery format, labels, version, timestamps, and the last few deliveries when
    the backoffice keeps them. An unknown NAME exits 1 and suggests close names.

    \b
    Examples:
      webhooks show orders-backend
      webhooks show orders-backend --format json
    """
    from reconciler.commands import show as command

    return command.run(_globals(ctx), config_file, name, fmt=fmt)


@cli.command()
@click.argument("name")
@click.option("--notification", metavar="TYPE",
              help="The notification type to send (default: the webhook's first).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the backoffice's test result, for scripts.")
@config_option
@click.pass_context
def test(ctx: click.Context, name: str, notification: str | None, fmt: str,
         config_file: Path) -> int:
    """Test-fire a URL webhook: show what was sent and what the receiver answered.

    \b
    Sends one test notification now, through the backoffice (which holds the secret),
    and shows the notification (decrypted), the request headers, and the response:
    status, body, duration, and whether it counts as delivered (and why not).
    Exit 0 when delivered, 1 when not (or for an e-mail webhook: those have no test).

    \b
    Examples:
      webhooks test orders-backend
      webhooks test orders-backend --notification mbway --format json
    """
    from reconciler.commands import test as command

    return command.run(_globals(ctx), config_file, name, notification=notification, fmt=fmt)


@cli.command(name="import")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (atomically) instead of standard output.")
@click.option("--owner", metavar="NAME",
              help="The config's owner (default: the owner the imported webhooks share).")
@click.option("--all", "import_all", is_flag=True, help="Every webhook, whoever manages it.")
@click.option("--unmanaged", is_flag=True, help="Only the webhooks no config manages.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@config_option
@click.pass_context
def import_(ctx: click.Context, output: Path | None, owner: str | None, import_all: bool,
            unmanaged: bool, force: bool, config_file: Path) -> int:
    """Write config for webhooks that already exist (adoption); never a secret.

    \b
    By default, the webhooks that the config of --owner manages (or of the one owner
    the backoffice's managed webhooks share); --unmanaged adds those no config manages;
    --all, every webhook. The owner's own webhooks are always in: a config declares all
    of them. The file plans clean as written: `webhooks plan` shows no
    changes, except the adoption of webhooks not yet managed by this owner, which
    `webhooks plan --adopt` shows and `webhooks apply --adopt` performs. Secrets stay
    in the backoffice; a commented `secret:` line shows how to manage one.

    \b
    Examples:
      webhooks import -o webhooks.yaml
      webhooks import --unmanaged --owner payments-team -o webhooks.yaml
    """
    from reconciler.commands import import_ as command
    from reconciler.importer import Selection

    if import_all and unmanaged:
        raise click.UsageError("--all and --unmanaged are mutually exclusive", ctx)
    selection: Selection = "all" if import_all else "unmanaged" if unmanaged else "owned"
    return command.run(_globals(ctx), config_file, output=output, owner=owner,
                       selection=selection, force=force)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--db", "db_url", metavar="URL", envvar="WEBHOOKS_DB_URL",
              default="sqlite:///.webhooks/backoffice.db", show_default=True)
@click.option("--allow-private-targets", is_flag=True,
              help="Deliver to loopback, private and link-local addresses too "
                   "(local development; refused by default: SSRF guard).")
@click.option("--smtp-url", metavar="smtp://HOST:PORT", default=None,
              help="SMTP relay for e-mail webhooks and support summaries "
                   "(default: .eml files in <data dir>/outbox/).")
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
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, db_url: str, allow_private_targets: bool,
          smtp_url: str | None, retry_schedule: str | None, worker_interval: float,
          delivery_timeout: float, summary_interval: float) -> int:
    """Run the backoffice API (and its delivery worker).

    \b
    Example:
      webhooks serve --port 8080 --db sqlite:///var/lib/webhooks/backoffice.db
    """
    from reconciler.commands import serve as command

    return command.run(_globals(ctx), host=host, port=port, db_url=db_url,
                       allow_private_targets=allow_private_targets, smtp_url=smtp_url,
                       retry_schedule=retry_schedule, worker_interval=worker_interval,
                       delivery_timeout=delivery_timeout, summary_interval=summary_interval)


@cli.group()
def token() -> None:
    """API tokens for the backoffice."""


@token.command(name="create")
@click.option("--scope", type=click.Choice(["read", "manage"]), required=True)
@click.option("--db", "db_url", metavar="URL", envvar="WEBHOOKS_DB_URL",
              default="sqlite:///.webhooks/backoffice.db", show_default=True)
@click.option("--merchant", metavar="ID", default=None,
              help="The merchant the token belongs to (default: the demo merchant).")
@click.pass_context
def token_create(ctx: click.Context, scope: str, db_url: str, merchant: str | None) -> int:
    """Print a new API token, once, on the last line of standard output.

    \b
    Example:
      export WEBHOOKS_API_TOKEN=$(webhooks token create --scope read | tail -n1)
    """
    from reconciler.commands import token as command

    return command.run(_globals(ctx), scope=scope, db_url=db_url, merchant=merchant)


@cli.command()
@click.option("--terminal", required=True, metavar="ID",
              help="The terminal the payment happened on (e.g. 10001).")
@click.option("--type", "notification_type", required=True, metavar="TYPE",
              help="The notification type, e.g. mbway, authorised-payment.")
@click.option("--status", metavar="STATUS",
              help="paymentStatus: Success (default), Pending, InProcessing, Declined, "
              "Error or Timeout.")
@click.option("--amount", metavar="VALUE", help="The amount, e.g. 12.50.")
@click.option("--currency", metavar="CODE", help="ISO 4217 code, e.g. EUR.")
@click.option("--method", metavar="METHOD", help="paymentMethod, e.g. MBWAY, CARD.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@config_option
@click.pass_context
def emit(ctx: click.Context, terminal: str, notification_type: str, status: str | None,
         amount: str | None, currency: str | None, method: str | None, fmt: str,
         config_file: Path) -> int:
    """Emit a payment notification; it fans out to the matching webhooks.

    \b
    Every enabled webhook that covers the terminal and subscribes to the type gets a
    delivery. Prints the notification id and each delivery (webhook, status). On the
    embedded backoffice the first attempt happens before this returns; `webhooks serve`
    delivers in the background.

    \b
    Example:
      webhooks emit --terminal 10001 --type mbway --amount 12.50 --currency EUR
    """
    from reconciler.commands import emit as command

    return command.run(_globals(ctx), config_file, terminal=terminal, type=notification_type,
                       status=status, amount=amount, currency=currency, method=method, fmt=fmt)


@cli.command()
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many deliveries, newest first.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json: the backoffice's delivery objects, for scripts.")
@config_option
@click.pass_context
def deliveries(ctx: click.Context, name: str, limit: int, fmt: str, config_file: Path) -> int:
    """The delivery log of one webhook: attempts, statuses, responses.

    \b
    A delivery is pending (not tried yet), delivered, failed (a retry is scheduled)
    or gave_up (no more retries). Test-fires are marked (test).

    \b
    Example:
      webhooks deliveries orders-backend --limit 5
    """
    from reconciler.commands import deliveries as command

    return command.run(_globals(ctx), config_file, name, limit=limit, fmt=fmt)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (loopback: only this machine can post).")
@click.option("--port", default=9999, show_default=True, type=click.IntRange(0, 65535))
@click.option("--secret", "secret", metavar="VALUE", default=None, show_default=False,
              help="The webhook's secret (visible in the process list: prefer --secret-env).")
@click.option("--secret-env", metavar="NAME", default=None,
              help="Read the secret from this environment variable "
              "(default: WEBHOOKS_LISTEN_SECRET).")
@click.option("--format", "fmt", type=click.Choice(formats.NAMES),
              default=None, help="How deliveries are protected (default: standard-webhooks "
              "for a whsec_ secret, else sibs).")
@click.option("--path", default="/hooks", show_default=True, help="The URL path to receive on.")
@click.pass_context
def listen(ctx: click.Context, host: str, port: int, secret: str | None,
           secret_env: str | None, fmt: str | None, path: str) -> int:
    """A local receiver that decrypts or verifies deliveries, prints and acknowledges them.

    \b
    Point a webhook at http://127.0.0.1:9999/hooks with the same secret, then emit or
    test-fire: each notification prints as one line and its JSON. sibs deliveries are
    decrypted and acknowledged with the SIBS answer; standard-webhooks ones are
    verified and answered 204. One that fails gets 400 and a line on stderr.
    The secret is never printed (only its fingerprint, as `webhooks show` prints it).

    \b
    Example:
      WEBHOOKS_LISTEN_SECRET=$ORDERS_WEBHOOK_SECRET webhooks listen --port 9999
    """
    from reconciler.commands import listen as command

    return command.run(_globals(ctx), host=host, port=port, secret=secret,
                       secret_env=secret_env, fmt=fmt, path=path)


def _write_bug_log() -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "webhooks"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError:
        base = Path(tempfile.gettempdir())
    log = base / f"crash-{stamp}-{os.getpid()}.log"
    log.write_text(f"webhooks {__version__}\nargv: {sys.argv[:2]}\n\n{traceback.format_exc()}")
    return log


def main(argv: list[str] | None = None) -> int:
    """Entry point: the single place where exceptions become exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        rv: Any = cli.main(args=argv, prog_name="webhooks", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except ReconcilerError as exc:
        click.echo(f"Error: {exc}", err=True)
        return exc.exit_code
    except Exception as exc:  # the last line of defence: a bug, not a user error
        if debug:
            traceback.print_exc()
        log = _write_bug_log()
        click.echo(
            f"Internal error ({type(exc).__name__}): this is a bug in webhooks. "
            f"Details were written to {log}",
            err=True,
        )
        return EXIT_BUG
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())

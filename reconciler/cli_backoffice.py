"""The commands that talk to a backoffice: list, show, test, emit, deliveries, resend,
recover, deliver, audit, and listen (a local receiver); `secret ...` is in
``reconciler.cli_secret``. Running a backoffice and its database
(serve, token, backoffice copy) is declared in ``reconciler.cli_database``.

Each declares its options and hands over to ``reconciler.commands.<name>``.
"""

from __future__ import annotations

from pathlib import Path

import click

from contract import formats
from reconciler.cli_options import (
    SINCE_HELP,
    config_option,
    globals_of,
    since_moment,
)


@click.command(name="list")
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
    return command.run(globals_of(ctx), config_file, filters=filters, owner=owner,
                       unmanaged=unmanaged, fmt=fmt)


@click.command()
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

    return command.run(globals_of(ctx), config_file, name, fmt=fmt)


@click.command()
@click.argument("name")
@click.option("--notification", metavar="TYPE",
              help="The notification type to send (default: the webhook's first).")
@click.option("--scenario", metavar="NAME",
              help="The documented case to send, of a type the webhook subscribes to "
              "(`webhooks emit --list-scenarios`; default: the type's successful purchase).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the backoffice's test result, for scripts.")
@config_option
@click.pass_context
def test(ctx: click.Context, name: str, notification: str | None, scenario: str | None,
         fmt: str, config_file: Path) -> int:
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
      webhooks test orders-backend --scenario multibanco-reference-generation
    """
    from reconciler.commands import test as command

    return command.run(globals_of(ctx), config_file, name, notification=notification,
                       scenario=scenario, fmt=fmt)


@click.command()
@click.option("--terminal", metavar="ID",
              help="The terminal the payment happened on (e.g. 10001); required.")
@click.option("--type", "notification_type", metavar="TYPE",
              help="The notification type, e.g. mbway, authorised-payment (or --scenario).")
@click.option("--scenario", metavar="NAME",
              help="The documented case to send, e.g. mbway-purchase-declined; it says its "
              "type (default: the type's successful purchase).")
@click.option("--list-scenarios", is_flag=True,
              help="List the scenarios (name, notification type, description) and exit.")
@click.option("--status", metavar="STATUS",
              help="Override paymentStatus: Success, Pending, InProcessing, Declined, "
              "Error or Timeout.")
@click.option("--amount", metavar="VALUE", help="The amount, e.g. 12.50.")
@click.option("--currency", metavar="CODE", help="ISO 4217 code, e.g. EUR.")
@click.option("--method", metavar="METHOD", help="paymentMethod, e.g. MBWAY, CARD.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--wait", is_flag=True,
              help="Wait for each delivery's first outcome and print it; exit 1 if one failed.")
@click.option("--wait-seconds", metavar="SECONDS", default=30.0, show_default=True,
              type=click.FloatRange(min=0.1, max=3600), help="How long --wait waits.")
@config_option
@click.pass_context
def emit(ctx: click.Context, terminal: str | None, notification_type: str | None,
         scenario: str | None, list_scenarios: bool, status: str | None,
         amount: str | None, currency: str | None, method: str | None, fmt: str,
         wait: bool, wait_seconds: float, config_file: Path) -> int:
    """Emit a payment notification; it fans out to the matching webhooks.

    \b
    Every enabled webhook that covers the terminal and subscribes to the type gets a
    delivery. The notification is one of the gateway's documented cases, a scenario
    (`--list-scenarios`): by default the type's successful purchase. A scenario that
    continues another (a reference paid, a purchase under an authorised payment)
    carries the latest one's reference, mandate or card token.
    Prints the notification id and each delivery (webhook, status). On the embedded
    backoffice the first attempt happens before this returns; `webhooks serve` delivers
    in the background.

    \b
    With --wait, it waits (up to --wait-seconds) until every delivery has its first
    outcome, prints them, and exits 1 when one failed or has none yet.

    \b
    Examples:
      webhooks emit --terminal 10001 --type mbway --amount 12.50 --currency EUR
      webhooks emit --terminal 10001 --type mbway --wait --wait-seconds 20
      webhooks emit --terminal 10001 --scenario multibanco-reference-generation
      webhooks emit --list-scenarios
    """
    from reconciler.commands import emit as command

    return command.run(globals_of(ctx), config_file, terminal=terminal, type=notification_type,
                       status=status, amount=amount, currency=currency, method=method, fmt=fmt,
                       wait=wait, wait_seconds=wait_seconds, scenario=scenario,
                       list_scenarios=list_scenarios)


@click.command()
@click.argument("name", required=False)
@click.option("--status", type=click.Choice(["pending", "delivered", "failed", "gave_up"]),
              help="Only deliveries in this state.")
@click.option("--since", metavar="TIME", callback=since_moment,
              help="Only deliveries created since TIME. " + SINCE_HELP)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many deliveries, newest first.")
@click.option("--follow", is_flag=True,
              help="Keep printing new deliveries and outcomes until Ctrl-C.")
@click.option("--interval", metavar="SECONDS", default=2.0, show_default=True,
              type=click.FloatRange(min=0.1, max=60), help="How often --follow looks.")
@click.option("--format", "fmt", type=click.Choice(["text", "table", "json"]), default="text",
              show_default=True, help="json: the backoffice's delivery objects with every "
              "attempt, for scripts (one per line with --follow); table is text.")
@config_option
@click.pass_context
def deliveries(ctx: click.Context, name: str | None, status: str | None, since: str | None,
               limit: int, follow: bool, interval: float, fmt: str, config_file: Path) -> int:
    """The delivery log, each delivery with its attempts: of one webhook, or of all.

    \b
    A delivery is pending (not tried yet), delivered, failed (a retry is scheduled)
    or gave_up (no more retries). Test-fires are marked (test). Under each delivery,
    its attempts: time, HTTP status, duration, error and the start of the answer.
    On the embedded backoffice, due deliveries are attempted first.

    \b
    Examples:
      webhooks deliveries orders-backend --limit 5
      webhooks deliveries --status failed --since 2h
      webhooks deliveries --follow
    """
    from reconciler.commands import deliveries as command

    return command.run(globals_of(ctx), config_file, name, status=status, since=since,
                       limit=limit, fmt="json" if fmt == "json" else "text",
                       follow_log=follow, interval=interval)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (loopback: only this machine can post).")
@click.option("--port", default=9999, show_default=True, type=click.IntRange(0, 65535))
@click.option("--secret", "secret", metavar="VALUE", default=None, show_default=False,
              help="The webhook's secret (visible in the process list: prefer --secret-env).")
@click.option("--secret-env", metavar="NAME", default=None,
              help="Read the secret from this environment variable "
              "(default: WEBHOOKS_LISTEN_SECRET).")
@click.option("--previous-secret-env", "previous_env", metavar="NAME", default=None,
              help="During a rotation: read the secret being replaced from this variable "
              "(default: WEBHOOKS_LISTEN_PREVIOUS_SECRET, when set); deliveries that open "
              "with either secret are accepted.")
@click.option("--format", "fmt", type=click.Choice(formats.NAMES),
              default=None, help="How deliveries are protected (default: standard-webhooks "
              "for a whsec_ secret, else sibs).")
@click.option("--path", default="/hooks", show_default=True, help="The URL path to receive on.")
@click.pass_context
def listen(ctx: click.Context, host: str, port: int, secret: str | None,
           secret_env: str | None, previous_env: str | None, fmt: str | None,
           path: str) -> int:
    """A local receiver that decrypts or verifies deliveries, prints and acknowledges them.

    \b
    Point a webhook at http://127.0.0.1:9999/hooks with the same secret, then emit or
    test-fire: each notification prints as one line and its JSON. sibs deliveries are
    decrypted and acknowledged with the SIBS answer; standard-webhooks ones are
    verified and answered 204. One that fails gets 400 and a line on stderr.
    The secret is never printed (only its fingerprint, as `webhooks show` prints it).
    During a secret's rotation, give the previous secret too: both are tried.

    \b
    Examples:
      WEBHOOKS_LISTEN_SECRET=$ORDERS_WEBHOOK_SECRET webhooks listen --port 9999
      WEBHOOKS_LISTEN_SECRET=$NEW WEBHOOKS_LISTEN_PREVIOUS_SECRET=$OLD webhooks listen
    """
    from reconciler.commands import listen as command

    return command.run(globals_of(ctx), host=host, port=port, secret=secret,
                       secret_env=secret_env, fmt=fmt, path=path, previous_env=previous_env)


COMMANDS: tuple[click.Command, ...] = (list_, show, test, emit, deliveries, listen)


@click.command()
@click.argument("delivery_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@config_option
@click.pass_context
def resend(ctx: click.Context, delivery_id: str, fmt: str, config_file: Path) -> int:
    """Attempt a delivery once more, now, whatever its status (its attempts are kept).

    \b
    Needs a token that may manage webhooks. A delivery being attempted right now is
    refused (try again once its attempt ends).

    \b
    Example:
      webhooks resend dl_3f0c2a9e1b7d4c559a613e2d
    """
    from reconciler.commands import resend as command

    return command.run(globals_of(ctx), config_file, delivery_id, fmt=fmt)


@click.command()
@click.argument("name")
@click.option("--since", metavar="TIME", required=True, callback=since_moment,
              help="Deliveries created since TIME. " + SINCE_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@config_option
@click.pass_context
def recover(ctx: click.Context, name: str, since: str, fmt: str, config_file: Path) -> int:
    """Resend every failed or given-up delivery of a webhook since TIME (not test-fires).

    \b
    Prints how many. Needs a token that may manage webhooks.

    \b
    Example:
      webhooks recover orders-backend --since 6h
    """
    from reconciler.commands import recover as command

    return command.run(globals_of(ctx), config_file, name, since=since, fmt=fmt)


@click.command()
@click.option("--seconds", metavar="SECONDS", default=10.0, show_default=True,
              type=click.FloatRange(min=0.1, max=86400),
              help="Stop starting new rounds after this long.")
@config_option
@click.pass_context
def deliver(ctx: click.Context, seconds: float, config_file: Path) -> int:
    """Attempt the due deliveries on the embedded backoffice; print how many.

    \b
    Runs rounds until none is due or --seconds have passed. The embedded backoffice
    has no background worker; a server (webhooks serve) delivers by itself.

    \b
    Example:
      webhooks deliver --seconds 30
    """
    from reconciler.commands import deliver as command

    return command.run(globals_of(ctx), config_file, seconds=seconds)


@click.command()
@click.option("--since", metavar="TIME", callback=since_moment,
              help="Only entries since TIME. " + SINCE_HELP)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000),
              help="How many entries, newest first.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the backoffice's entries, for scripts.")
@config_option
@click.pass_context
def audit(ctx: click.Context, since: str | None, limit: int, fmt: str,
          config_file: Path) -> int:
    """The audit log: every write, and every refused attempt at one, newest first.

    \b
    Who (a token's name and id, or cli:local for the CLI on the database itself),
    what (the action, its target, the names of the fields it set; never a value),
    when, and the outcome (ok, or refused with its status). A read token may see it.

    \b
    Examples:
      webhooks audit --since 24h
      webhooks audit --since 2026-11-29T10:00:00Z --format json
    """
    from reconciler.commands import audit as command

    return command.run(globals_of(ctx), config_file, since=since, limit=limit, fmt=fmt)


COMMANDS += (resend, recover, deliver, audit)

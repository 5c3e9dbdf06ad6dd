"""The ``webhooks`` command line: parse, dispatch, print, map errors to exit codes.

Nothing here decides anything: each command lives in ``reconciler.commands.<name>``
and returns an exit code; ``reconciler.cli_config`` and ``reconciler.cli_backoffice``
declare them. The one place that turns exceptions into exit codes is ``main``.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import click

from reconciler import __version__, cli_backoffice, cli_config, cli_database, cli_secret
from reconciler.commands import Globals
from reconciler.errors import EXIT_BUG, EXIT_INTERRUPTED, ReconcilerError


class _Group(click.Group):
    """The root group: command summaries in full (click cuts them at the terminal's
    width, mid-sentence), each the first sentence of its help."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_Group,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="webhooks")
@click.option("--no-color", is_flag=True, help="Plain output (also when NO_COLOR is set).")
@click.option(
    "--api-url", metavar="URL",
    help="Use the backoffice at URL (also WEBHOOKS_API_URL; token from WEBHOOKS_API_TOKEN); "
    "default: the embedded backoffice in .webhooks/ beside the config, except in CI.",
)
@click.option("--embedded", is_flag=True,
              help="Use the embedded backoffice in .webhooks/ beside the config (needed "
              "when CI is set and no WEBHOOKS_API_URL is).")
@click.option(
    "--insecure-http", is_flag=True, envvar="WEBHOOKS_INSECURE_HTTP",
    help="Allow a plain http:// API URL to another machine (env WEBHOOKS_INSECURE_HTTP=1): "
    "the token and webhook secrets then cross the network in clear.",
)
@click.option("--debug", is_flag=True, help="Show a traceback for internal errors.")
@click.pass_context
def cli(ctx: click.Context, no_color: bool, api_url: str | None, embedded: bool,
        insecure_http: bool,
        debug: bool) -> None:
    """Webhooks as code for a payment gateway backoffice.

    \b
    Declare webhooks in webhooks.yaml, then:
      webhooks validate          check the file (offline with --offline)
      webhooks plan              show what would change
      webhooks apply             make the backoffice match
      webhooks test NAME         test-fire a webhook
    """
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Globals(color=color, api_url=api_url, debug=debug, embedded=embedded,
                      insecure_http=insecure_http)


# The commands that reach a backoffice take --api-url after their name too.
REACH_A_BACKOFFICE = frozenset({"validate", "plan", "apply", "import", "list", "show", "test",
                                "emit", "deliveries", "resend", "recover", "deliver"})


def _api_url_here(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``webhooks plan --api-url URL``: the same as before the command's name."""
    if value is not None:
        ctx.obj = dataclasses.replace(ctx.find_object(Globals) or Globals(False, None),
                                      api_url=value or None)


for command in (*cli_config.COMMANDS, *cli_backoffice.COMMANDS, *cli_secret.COMMANDS,
                *cli_database.COMMANDS):
    if command.name in REACH_A_BACKOFFICE:
        command.params.append(click.Option(
            ["--api-url"], metavar="URL", expose_value=False, callback=_api_url_here,
            help="Use the backoffice at URL (as `webhooks --api-url URL ...` or "
                 "WEBHOOKS_API_URL)."))
    cli.add_command(command)


def _write_bug_log() -> Path:
    """The traceback in a new file only its owner can read (0600 in a 0700 folder)."""
    from contract import private_files

    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "webhooks"
    try:
        private_files.make_folder(base)
    except OSError:
        base = Path(tempfile.mkdtemp(prefix="webhooks-"))  # 0700, unlike the shared tmp
    text = f"webhooks {__version__}\nargv: {sys.argv[:2]}\n\n{traceback.format_exc()}"
    log = base / f"crash-{stamp}-{os.getpid()}.log"
    try:
        private_files.write_file(log, text.encode("utf-8", "replace"))
    except FileExistsError:  # a second crash log of this process in this second
        log = base / f"crash-{stamp}-{os.getpid()}-{os.urandom(3).hex()}.log"
        private_files.write_file(log, text.encode("utf-8", "replace"))
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

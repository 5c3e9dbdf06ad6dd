"""The ``webhooks`` command line: parse, dispatch, print, map errors to exit codes.

Nothing here decides anything: each command lives in ``reconciler.commands.<name>``
and returns an exit code; ``reconciler.cli_config`` and ``reconciler.cli_backoffice``
declare them. The one place that turns exceptions into exit codes is ``main``.
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

from reconciler import __version__, cli_backoffice, cli_config, cli_database, cli_secret
from reconciler.commands import Globals
from reconciler.errors import EXIT_BUG, EXIT_INTERRUPTED, ReconcilerError


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


for command in (*cli_config.COMMANDS, *cli_backoffice.COMMANDS, *cli_database.COMMANDS,
                *cli_secret.COMMANDS):
    cli.add_command(command)


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

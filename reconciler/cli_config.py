"""The commands that work on a config: validate, schema, plan, apply, import.

Each declares its options and hands over to ``reconciler.commands.<name>``.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli_options import (
    config_option,
    environment_option,
    globals_of,
    target_option,
    validate_config_option,
)
from reconciler.render import FORMATS as PLAN_FORMATS


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@validate_config_option
@click.option("--offline", is_flag=True, help="Skip the checks against the backoffice catalogue.")
@click.option("--strict", is_flag=True,
              help="Warnings are errors too (an unset secret, for one): exit 1.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github", "gitlab"]), default="text",
    show_default=True,
    help="github: annotations (workflow commands); gitlab: a Code Quality report on stdout.",
)
@click.pass_context
def validate(ctx: click.Context, files: tuple[Path, ...], config_file: Path, offline: bool,
             strict: bool, fmt: str) -> int:
    """Check configs: schema, secrets, references; every problem at once.

    \b
    Checks -f FILE and any FILES given (default: webhooks.yaml). Each problem prints
    as FILE:LINE:COL: message. Exit 0 when all are valid, 1 when any is not.
    Unset ${env:...} secrets are warnings here, so pull-request pipelines need no secrets
    (--strict makes every warning an error). Every entry of `environments:` is checked.

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
    return command.run(globals_of(ctx), paths, offline=offline, fmt=fmt, strict=strict)


@click.command()
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

    return command.run(globals_of(ctx), plan=plan_schema)


@click.command()
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
@environment_option
@click.option("--base", "base", metavar="REV",
              help="Also read the config at this git revision (a pull request's base) and "
                   "mark the changes the pull request itself makes.")
@click.option("--skip-secrets", is_flag=True,
              help="Plan without reading secrets (they are not compared); apply of the "
                   "plan file reads them and checks the rest is as reviewed.")
@click.option("--fail-on-unmanaged", is_flag=True,
              help="Name the merchant's unmanaged webhooks; with --detailed-exitcode they "
                   "exit 2, like changes.")
@click.pass_context
def plan(ctx: click.Context, config_file: Path, fmt: str, out: Path | None,
         detailed_exitcode: bool, adopt: bool, force: bool, targets: tuple[str, ...],
         environment: str | None, base: str | None, skip_secrets: bool,
         fail_on_unmanaged: bool) -> int:
    """Show what apply would change.

    \b
    Exit 0 with or without changes, 1 on error or when the plan is unsafe;
    with --detailed-exitcode: 0 no changes, 2 changes, 1 error.
    Changes made outside the config since the last apply are shown apart (drift).

    \b
    Examples:
      webhooks plan
      webhooks plan --format markdown --out plan.json --base origin/main
      webhooks plan --environment production --skip-secrets --out plan.json
      webhooks plan --detailed-exitcode --fail-on-unmanaged      (drift check)
    """
    from reconciler.commands import plan as command
    from reconciler.reviewing import ReviewOptions

    review = ReviewOptions(environment=environment or None, base=base,
                           skip_secrets=skip_secrets, fail_on_unmanaged=fail_on_unmanaged)
    return command.run(globals_of(ctx), config_file, fmt=fmt,
                       out=out, detailed_exitcode=detailed_exitcode, targets=targets,
                       adopt=adopt, force=force, review=review)


@click.command()
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
@environment_option
@click.pass_context
def apply(ctx: click.Context, planfile: Path | None, config_file: Path, auto_approve: bool,
          force: bool, parallelism: int, test_after: bool, adopt: bool, fmt: str,
          targets: tuple[str, ...], environment: str | None) -> int:
    """Make the backoffice match the config (or a saved plan).

    \b
    Without PLANFILE: plans, shows the plan, asks for 'yes' on a terminal (refuses
    when standard input is not a terminal, unless --auto-approve). With PLANFILE
    (from `webhooks plan --out`): refuses the whole plan if anything changed since
    (a plan made with --skip-secrets: anything but the secrets, which apply reads),
    or if it was made for another --environment. Each webhook written gets a
    last-applied record, so later plans can tell changes made outside the config.
    Exit 0 when everything applied, 1 when anything failed, 130 on Ctrl-C.

    \b
    Examples:
      webhooks apply                      plan, show, ask for yes
      webhooks apply --auto-approve       in a pipeline
      webhooks apply plan.json            what was reviewed, nothing else
    """
    from reconciler.commands import apply as command

    return command.run(globals_of(ctx), planfile, config_file, auto_approve=auto_approve,
                       force=force, parallelism=parallelism, targets=targets,
                       test_after=test_after, adopt=adopt, fmt=fmt,
                       environment=environment or None)


@click.command(name="import")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (atomically) instead of standard output.")
@click.option("--owner", metavar="NAME",
              help="The config's owner (default: the owner the imported webhooks share).")
@click.option("--all", "import_all", is_flag=True, help="Every webhook, whoever manages it.")
@click.option("--include-unmanaged", "--unmanaged", "unmanaged", is_flag=True,
              help="Also the webhooks no config manages (to adopt them).")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
@config_option
@click.pass_context
def import_(ctx: click.Context, output: Path | None, owner: str | None, import_all: bool,
            unmanaged: bool, force: bool, config_file: Path) -> int:
    """Write config for webhooks that already exist (adoption); never a secret.

    \b
    By default, the webhooks that the config of --owner manages; without --owner,
    those of the one owner the backoffice holds (with other owners' or unmanaged
    webhooks there too, it asks for --owner). --include-unmanaged adds those no config
    manages; --all, every webhook. The owner's own webhooks are always in: a config
    declares all of them. The file plans clean as written: `webhooks plan` shows no
    changes, except the adoption of webhooks not yet managed by this owner, which
    `webhooks plan --adopt` shows and `webhooks apply --adopt` performs. Secrets stay
    in the backoffice; a commented `secret:` line shows how to manage one. Its first
    line points editors at webhooks.schema.json beside it: save it with
    `webhooks schema > webhooks.schema.json`.

    \b
    Examples:
      webhooks import -o webhooks.yaml        (the backoffice holds one owner's)
      webhooks import --include-unmanaged --owner payments-team -o webhooks.yaml
    """
    from reconciler.commands import import_ as command
    from reconciler.importer import Selection

    if import_all and unmanaged:
        raise click.UsageError("--all and --include-unmanaged are mutually exclusive", ctx)
    selection: Selection = "all" if import_all else "unmanaged" if unmanaged else "owned"
    return command.run(globals_of(ctx), config_file, output=output, owner=owner,
                       selection=selection, force=force)


COMMANDS: tuple[click.Command, ...] = (validate, schema, plan, apply, import_)

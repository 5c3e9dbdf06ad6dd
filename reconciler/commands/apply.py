"""``webhooks apply``: make the backoffice match the config, or apply a saved plan."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from types import FrameType

import click

from reconciler.apply import (
    ApplyReport,
    ApplyTestResult,
    ChangeResult,
    apply_plan,
    generated_note,
    generated_secrets,
    test_changed,
)
from reconciler.commands import Globals
from reconciler.config import load_config
from reconciler.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, Aborted, StalePlan
from reconciler.model import Config
from reconciler.plan import Plan, planfile
from reconciler.providers import Provider, choose
from reconciler.render import render
from reconciler.reviewing import ReviewOptions
from reconciler.session import plan_config, require_file, require_manage, with_provider
from reconciler.target import Target, mismatch

SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}


def run(g: Globals, planfile_path: Path | None, config_file: Path, *, auto_approve: bool,
        force: bool, parallelism: int, targets: tuple[str, ...], test_after: bool,
        adopt: bool, fmt: str, environment: str | None = None) -> int:
    require_file(config_file)
    saved = planfile.load(planfile_path) if planfile_path is not None else None
    if saved is not None and (targets or adopt):
        raise Aborted("--target and --adopt belong to `webhooks plan`; a saved plan keeps its own")
    if saved is not None:  # the plan's environment, unless another is asked for
        if environment is not None and (problem := planfile.environment_problem(
                saved, environment)) is not None:
            raise StalePlan(problem + "; nothing was applied")
        environment = saved.environment
    review = ReviewOptions(environment=environment)  # apply always reads the secrets
    interactive = saved is None and not auto_approve
    if interactive and not sys.stdin.isatty():
        raise Aborted(
            "refusing to apply without consent: standard input is not a terminal. "
            "Review `webhooks plan`, then run `webhooks apply --auto-approve` "
            "(or apply a saved plan)."
        )
    to_err = fmt == "json"  # keep stdout for the JSON report
    tests: list[ApplyTestResult] = []
    generated: list[str] = []

    target = choose(g, config_file).target  # a backoffice not named clearly: stop here
    if saved is not None:  # before the backoffice is even opened (an embedded one created)
        _check_backoffice(saved, target)
    # An invalid config stops here, before the backoffice is opened (and an embedded one
    # created); the catalogue's checks follow once it is.
    load_config(config_file, secrets="require", environment=environment)

    async def work(provider: Provider) -> ApplyReport | None:
        if saved is not None:
            opts = saved.options
            config, plan = await plan_config(provider, config_file, targets=opts.targets,
                                             adopt=opts.adopt, force=opts.force or force,
                                             review=review)
            actual_problems = planfile.check_stale(saved, await provider.fetch(),
                                                  await provider.fingerprints())
            differences = planfile.compare(
                saved, plan, new_backoffice=target.kind == "embedded" and not target.exists)
            if actual_problems or differences:
                raise StalePlan(
                    f"the saved plan {planfile_path} is stale; nothing was applied:\n  "
                    + "\n  ".join(actual_problems + differences)
                    + "\nRun `webhooks plan` again."
                )
        else:
            config, plan = await plan_config(provider, config_file, targets=targets,
                                             adopt=adopt, force=force, review=review)
        _warn(config)
        click.echo(render(plan, "text", color=g.color), nl=False, err=to_err)
        plan.raise_if_unsafe()
        if not plan.has_changes:
            return None
        await require_manage(provider, "apply")
        if interactive:
            _confirm()
        report = await _apply(plan, provider, parallelism, g.color, to_err)
        generated.extend(generated_secrets(plan, report))
        if not report.interrupted:
            tests.extend(await _test(plan, report, provider, test_after, g.color, to_err))
        return report

    report = with_provider(g, config_file, work)
    if report is None:
        if fmt == "json":
            click.echo(json.dumps({"ok": True, "summary": "No changes.", "results": [],
                                   "tests": [], "generated_secrets": []}))
        return EXIT_OK
    untested = [t for t in tests if not t.delivered]
    summary = report.summary_line()
    if untested:
        summary += (f" {len(untested)} of {len(tests)} test-fires NOT delivered: "
                    f"{', '.join(t.name for t in untested)}.")
    if fmt == "json":
        data = {**report.data, "tests": [t.data for t in tests],
                "generated_secrets": generated}
        if untested:
            data["ok"] = False
            data["summary"] = summary
        click.echo(json.dumps(data, indent=2))
    if note := generated_note(generated):
        click.echo(note, err=to_err)
    click.echo(summary, err=to_err)
    for failure in report.failed:
        click.echo(f"  failed: {failure.name}: {failure.message}", err=True)
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok and not untested else EXIT_ERROR


def _check_backoffice(saved: planfile.SavedPlan, target: Target) -> None:
    """A saved plan is applied only to the backoffice it was made against."""
    if saved.backoffice is None:
        raise StalePlan(f"the saved plan {saved.path} does not say which backoffice it was "
                        "made against; nothing was applied. Run `webhooks plan --out` again.")
    why = mismatch(saved.backoffice, target)
    if why is not None:
        raise StalePlan(f"the saved plan {saved.path} is for another backoffice: {why}.")


def _warn(config: Config) -> None:
    for warning in config.warnings:
        click.echo(str(warning), err=True)


def _confirm() -> None:
    click.echo("\nDo you want to apply these changes? Only 'yes' will be accepted.")
    answer = click.prompt("  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        raise Aborted("apply cancelled: nothing was changed")


async def _apply(plan: Plan, provider: Provider, parallelism: int, color: bool,
                 to_err: bool) -> ApplyReport:
    total = len(plan.changes)
    done = 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        # A plain handler, not loop.add_signal_handler: a loop callback runs only when
        # the loop gets control, and the embedded provider never gives it back between
        # changes, so Ctrl-C went unseen until every change was made. The workers check
        # the flag between changes; the message waits for the loop (no printing here).
        if not stop.is_set():
            stop.set()
            loop.call_soon_threadsafe(_announce_interrupt)

    previous = signal.signal(signal.SIGINT, interrupt)

    def report(result: ChangeResult) -> None:
        nonlocal done
        done += 1
        mark = SYMBOL[str(result.action)]
        status = result.message if result.ok else f"FAILED: {result.message}"
        progress = f"[{done}/{total}] " if total > 1 else ""
        line = f"{progress}{mark} {result.name}: {status} ({result.seconds:.2f}s)"
        if color:
            line = click.style(line, fg="green" if result.ok else "red")
        click.echo(line, err=to_err)

    click.echo("", err=to_err)
    try:
        return await apply_plan(plan, provider, parallelism=parallelism, on_result=report,
                                stop=stop)
    finally:
        signal.signal(signal.SIGINT, previous)


async def _test(plan: Plan, report: ApplyReport, provider: Provider, all_url: bool,
                color: bool, to_err: bool) -> list[ApplyTestResult]:
    """Test-fire the changed URL webhooks (``--test``, or ``test_on_apply``), a line each."""

    def show(test: ApplyTestResult) -> None:
        line = test.line
        if color:
            line = click.style(line, fg="green" if test.delivered else "red")
        click.echo(line, err=to_err)

    return await test_changed(plan, report, provider, all_url=all_url, on_result=show)


def _announce_interrupt() -> None:
    click.echo("\nInterrupted: finishing the changes in flight, starting no new ones.",
               err=True)

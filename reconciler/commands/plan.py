"""``webhooks plan``: show what apply would change."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from reconciler.plan import planfile
from reconciler.render import render
from reconciler.reviewing import NO_REVIEW, ReviewOptions
from reconciler.session import plan_config, require_file, with_provider


def run(
    g: Globals,
    config_file: Path,
    *,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    adopt: bool,
    force: bool,
    review: ReviewOptions = NO_REVIEW,
) -> int:
    require_file(config_file)
    notes: list[str] = []
    config, plan = with_provider(
        g,
        config_file,
        lambda provider: plan_config(
            provider, config_file, targets=targets, adopt=adopt, force=force, review=review,
            notes=notes,
        ),
        read_only=True,
    )
    for warning in config.warnings:
        click.echo(str(warning), err=True)
    for note in notes:
        click.echo(note, err=True)
    click.echo(render(plan, fmt, color=g.color and fmt == "text"), nl=False)
    if out is not None:
        planfile.save(plan, out)
        click.echo(f"Saved the plan to {out}: apply it with `webhooks apply {out}`.", err=True)
    if not plan.is_safe:
        return EXIT_ERROR
    if detailed_exitcode and (plan.has_changes or (review.fail_on_unmanaged and plan.unmanaged)):
        return EXIT_CHANGES
    return EXIT_OK

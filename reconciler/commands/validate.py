"""`webhooks validate`: every problem of a config at once; exit 0 when valid, 1 when not.

Secrets are optional here (an unset variable is a warning), so pull-request pipelines
need none. Without ``--offline`` the backoffice catalogue also checks stores, terminals
and notification types; when it cannot be had, the offline checks run and say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.config import ConfigReport, read_config
from reconciler.errors import EXIT_ERROR, EXIT_OK, ReconcilerError
from reconciler.model import Catalog


def run(g: Globals, config_file: Path, *, offline: bool, fmt: str) -> int:
    catalog = None if offline or not config_file.is_file() else _catalog(g, config_file)
    report = read_config(config_file, secrets="optional", catalog=catalog)
    if fmt == "json":
        click.echo(json.dumps(_as_json(report), indent=2))
    else:
        _print_text(g, report)
    return EXIT_OK if report.config is not None else EXIT_ERROR


def _catalog(g: Globals, config_file: Path) -> Catalog | None:
    """The backoffice catalogue, or None (with a warning) when it cannot be had."""
    try:
        from reconciler import providers

        load = getattr(providers, "load_catalog", None)
        if load is None:
            raise ImportError("no provider can load a catalogue yet")
        catalog: Catalog = load(g, config_file)
        return catalog
    except (ImportError, OSError, ReconcilerError) as exc:
        click.echo(
            f"warning: the backoffice catalogue is unavailable ({exc}); checked offline: "
            "stores and terminals were not checked",
            err=True,
        )
        return None


def _as_json(report: ConfigReport) -> dict[str, object]:
    return {
        "valid": report.config is not None,
        "file": str(report.path),
        "webhooks": report.webhook_count,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "problems": [p.as_dict() for p in report.problems],
    }


def _print_text(g: Globals, report: ConfigReport) -> None:
    for problem in report.problems:
        click.echo(str(problem))
    warnings = _count(len(report.warnings), "warning")
    if report.config is not None:
        count = _count(len(report.config.webhooks), "webhook")
        summary = f"{report.path}: valid ({count}{', ' + warnings if report.warnings else ''})"
        click.echo(click.style(summary, fg="green") if g.color else summary)
    else:
        summary = f"{report.path}: {_count(len(report.errors), 'error')}, {warnings}"
        click.echo(click.style(summary, fg="red") if g.color else summary)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"

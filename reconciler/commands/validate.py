"""`webhooks validate`: every problem of one or more configs at once; exit 0 when all are valid.

Secrets are optional here (an unset variable is a warning), so pull-request pipelines
need none. Without ``--offline`` the backoffice catalogue also checks stores, terminals
and notification types; when it cannot be had, the offline checks run and say so.

Formats: ``text`` (``FILE:LINE:COL: message``), ``json`` (one object, however many files:
``{"valid", "strict", "files": [...]}``), ``github`` (workflow-command annotations) and
``gitlab`` (a Code Quality report on standard output, the summaries on standard error).

``--strict`` turns every warning into an error: the file is then invalid (exit 1).
Every entry of the config's ``environments:`` is checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.config import ConfigReport, read_config
from reconciler.errors import EXIT_ERROR, EXIT_OK, ReconcilerError
from reconciler.model import Catalog
from reconciler.render import ci_annotations


def run(g: Globals, config_files: Sequence[Path], *, offline: bool, fmt: str,
        strict: bool = False) -> int:
    if not offline:  # a backoffice not named clearly is an error here too, not a fallback
        from reconciler.providers import choose

        for path in dict.fromkeys(config_files):
            choose(g, path)
    reports = [_report(g, path, offline) for path in dict.fromkeys(config_files)]
    if strict:
        reports = [_strict(r) for r in reports]
    if fmt == "json":
        files = [_as_json(r) for r in reports]
        click.echo(json.dumps({"valid": all(f["valid"] for f in files), "strict": strict,
                               "files": files}, indent=2))
    elif fmt == "gitlab":
        root = os.environ.get("CI_PROJECT_DIR")
        problems = [p for r in reports for p in r.problems]
        click.echo(json.dumps(ci_annotations.gitlab_code_quality(problems, root), indent=2))
        for report in reports:  # stdout is the report file; people read standard error
            _print_summary(g, report, err=True)
    elif fmt == "github":
        root = os.environ.get("GITHUB_WORKSPACE")
        for report in reports:
            for problem in report.problems:
                click.echo(ci_annotations.github_annotation(problem, root))
            _print_summary(g, report)
    else:
        for report in reports:
            for problem in report.problems:
                click.echo(str(problem))
            _print_summary(g, report)
    return EXIT_OK if all(r.config is not None for r in reports) else EXIT_ERROR


def _report(g: Globals, config_file: Path, offline: bool) -> ConfigReport:
    catalog = None if offline or not config_file.is_file() else _catalog(g, config_file)
    return read_config(config_file, secrets="optional", catalog=catalog, every_environment=True)


def _strict(report: ConfigReport) -> ConfigReport:
    """The report with its warnings as errors (``--strict``)."""
    if not report.warnings:
        return report
    problems = tuple(replace(p, severity="error",
                             message=p.message + " (an error with --strict)")
                     if p.severity == "warning" else p for p in report.problems)
    return replace(report, config=None, problems=problems)


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


def _print_summary(g: Globals, report: ConfigReport, *, err: bool = False) -> None:
    warnings = _count(len(report.warnings), "warning")
    if report.config is not None:
        count = _count(len(report.config.webhooks), "webhook")
        summary = f"{report.path}: valid ({count}{', ' + warnings if report.warnings else ''})"
        click.echo(click.style(summary, fg="green") if g.color else summary, err=err)
    else:
        summary = f"{report.path}: {_count(len(report.errors), 'error')}, {warnings}"
        click.echo(click.style(summary, fg="red") if g.color else summary, err=err)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"

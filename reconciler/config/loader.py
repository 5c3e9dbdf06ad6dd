"""Load ``webhooks.yaml``: read, parse, check, resolve references, merge defaults.

The happy path parses with yaml-rs and validates once; any problem at all (or any
construct the two parsers might read differently) re-reads the file with positions, and
that reading is the authority for every message (see ``reconciler.config.yamlload``).

Analysis: the schema (``schema_check``), then the checks a schema cannot make, with
``${env:NAME}`` and ``${file:PATH}`` references resolved along the way (``checks``,
``references``), then defaults merged into each webhook.
"""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import formats
from reconciler.config import environments
from reconciler.config.checks import Checker, Context, rename_findings
from reconciler.config.findings import Finding
from reconciler.config.reference_places import reference_findings
from reconciler.config.references import SecretsMode
from reconciler.config.schema_check import schema_findings
from reconciler.config.source import symlink_problem
from reconciler.config.yamlload import (
    MAX_FILE_BYTES,
    DecodeError,
    decode,
    fast_path_allowed,
    load_fast,
    load_slow,
)
from reconciler.config.yamlnodes import SlowDocument, YamlPath, YamlProblem
from reconciler.errors import ConfigError, Problem
from reconciler.model import Catalog, Config, SafetyThresholds, WebhookSpec


@dataclass(frozen=True)
class ConfigReport:
    """What reading a config found: the config when valid, and every problem either way."""

    path: Path
    config: Config | None
    problems: tuple[Problem, ...]  # sorted; errors and warnings
    webhook_count: int | None = None  # None when the file had no readable `webhooks`

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


def load_config(
    path: Path,
    *,
    secrets: SecretsMode = "require",
    catalog: Catalog | None = None,
    environment: str | None = None,
) -> Config:
    """Read and check ``path``; ConfigError with every problem when it is invalid.

    ``secrets="optional"`` (for ``validate``) makes unset variables and missing files
    warnings, ``"skip"`` (``plan --skip-secrets``) leaves secrets unread; ``catalog``
    adds the checks against the backoffice (stores, terminals, notification types);
    ``environment`` puts that entry of ``environments:`` over the webhooks (a config
    that declares environments needs one).
    """
    report = read_config(path, secrets=secrets, catalog=catalog, environment=environment)
    if report.config is None:
        raise ConfigError(list(report.problems))
    return report.config


def read_config(
    path: Path,
    *,
    secrets: SecretsMode = "require",
    catalog: Catalog | None = None,
    fast: bool = True,
    environment: str | None = None,
    every_environment: bool = False,
) -> ConfigReport:
    """Like ``load_config``, but returns the problems; ``fast=False`` skips the fast parser.

    ``every_environment`` (``validate``) checks each environment's webhooks too; the
    config is then the one without any environment.
    """
    data = _read_bytes(path)
    if isinstance(data, Problem):
        return ConfigReport(path, None, (data,))
    return read_config_bytes(path, data, secrets=secrets, catalog=catalog, fast=fast,
                             environment=environment, every_environment=every_environment)


def read_config_bytes(
    path: Path,
    data: bytes,
    *,
    secrets: SecretsMode = "require",
    catalog: Catalog | None = None,
    fast: bool = True,
    environment: str | None = None,
    every_environment: bool = False,
) -> ConfigReport:
    """``read_config`` of bytes read elsewhere (the config at a git revision); ``path``
    names it in messages, and its directory is where ``${file:PATH}`` is read."""
    file = str(path)
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = decode(data)
    except DecodeError as exc:
        return ConfigReport(path, None, (_problem(file, exc.problem),))
    context = Context(path.parent, secrets, catalog, environment, every_environment)
    if fast and fast_path_allowed(text):
        report = _try_fast(path, text, digest, context)
        if report is not None:
            return report
    return _read_slow(path, text, digest, context)


def _read_bytes(path: Path) -> bytes | Problem:
    file = str(path)
    refused = symlink_problem(path)
    if refused is not None:
        return Problem(file, 1, 1, refused)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            return Problem(file, 1, 1, "is a directory, not a config file")
        if not stat.S_ISREG(info.st_mode):
            return Problem(file, 1, 1, "is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            return _too_large(file, info.st_size)
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return Problem(file, 1, 1, "no such file")
    except OSError as exc:
        return Problem(file, 1, 1, f"cannot read the file: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:  # it grew while we looked
        return _too_large(file, len(data))
    return data


def _too_large(file: str, size: int) -> Problem:
    return Problem(
        file,
        1,
        1,
        f"the file is {size / 2**20:.1f} MiB; a config may be at most "
        f"{MAX_FILE_BYTES // 2**20} MiB (about 80,000 webhooks)",
    )


def _problem(file: str, problem: YamlProblem) -> Problem:
    return Problem(file, problem.line, problem.col, problem.message, "error", problem.path)


# --- the two paths ----------------------------------------------------------------------------


def _try_fast(path: Path, text: str, digest: str, context: Context) -> ConfigReport | None:
    """The config from the fast parse, or None when anything needs explaining."""
    try:
        doc = load_fast(text)
        if not isinstance(doc, dict):
            return None
        analysis = _analyse(doc, context)
    except Exception:  # any trouble at all: the slow path explains it (or re-raises a bug)
        return None
    if analysis.findings:
        return None
    lines = _webhook_lines(text, list(analysis.webhooks))
    if lines is None:  # an unusual layout: let the slow path find the lines
        return None
    config = _config(path, digest, analysis, lines, ())
    return ConfigReport(path, config, (), len(config.webhooks))


def _read_slow(path: Path, text: str, digest: str, context: Context) -> ConfigReport:
    file = str(path)
    slow = load_slow(text)
    if not looks_like_config(slow.value):
        return ConfigReport(path, None, tuple(_not_a_config(file, slow)))
    if slow.value is None and slow.problems:  # unreadable: what stopped the reading only
        return ConfigReport(path, None, (_problem(file, slow.problems[-1]),))
    problems = [_problem(file, p) for p in slow.problems]
    analysis: _Analysis | None = None
    count: int | None = None
    if isinstance(slow.value, dict):
        analysis = _analyse(slow.value, context, slow.explained)
        problems.extend(_locate(file, f, slow) for f in analysis.findings)
        webhooks = slow.value.get("webhooks")
        count = len(webhooks) if isinstance(webhooks, dict) else None
    problems.sort()
    if analysis is None or any(p.severity == "error" for p in problems):
        return ConfigReport(path, None, tuple(problems), count)
    lines = {name: slow.keys.get(("webhooks", name), (0, 0))[0] for name in analysis.webhooks}
    warnings = tuple(p for p in problems if p.severity == "warning")
    config = _config(path, digest, analysis, lines, warnings)
    return ConfigReport(path, config, tuple(problems), count)


TOP_LEVEL_KEYS = ("version", "owner", "webhooks")


def looks_like_config(value: object) -> bool:
    """A document that parsed to a mapping with one of the config's top-level keys (or
    failed to parse at all: its syntax errors quote nothing). Anything else is some other
    file, and none of its text may be quoted back."""
    if value is None:
        return True
    return isinstance(value, dict) and any(key in value for key in TOP_LEVEL_KEYS)


def _not_a_config(file: str, slow: SlowDocument) -> list[Problem]:
    """One problem for a file that is not a config, quoting none of it: only what it is."""
    value = slow.value
    if isinstance(value, dict):
        return [Problem(file, 1, 1, "not a webhooks config: the top level has none of "
                        "version, owner and webhooks (is this the right file?)")]
    kind = {list: "a list", str: "text", bool: "a boolean"}.get(type(value), "a number")
    return [Problem(file, 1, 1, "the top level must be a mapping with version, owner and "
                    f"webhooks, not {kind}")]


def _locate(file: str, finding: Finding, slow: SlowDocument) -> Problem:
    """Place a finding at its key or value, else at its nearest located ancestor."""
    path = finding.path
    position = (slow.keys.get(path) if finding.at_key else None) or slow.values.get(path)
    while position is None and path:
        path = path[:-1]
        position = slow.keys.get(path) or slow.values.get(path)
    line, col = position or (1, 1)
    return Problem(file, line, col, finding.text, finding.severity, finding.path)


_WEBHOOKS_KEY = re.compile(
    r"^(?:webhooks|\"webhooks\"|'webhooks')[ \t]*:[ \t]*(?:#.*)?\r?$", re.MULTILINE
)
_TOP_LEVEL_LINE = re.compile(r"^[^\s#]", re.MULTILINE)
_NAME_KEY = re.compile(
    r"^( +)(?:([a-z0-9][a-z0-9._-]*)|\"([a-z0-9][a-z0-9._-]*)\"|'([a-z0-9][a-z0-9._-]*)')"
    r"[ \t]*:(?=[ \t]|\r?$)",
    re.MULTILINE,
)


def _webhook_lines(text: str, names: list[str]) -> dict[str, int] | None:
    """Each webhook's line, read off the text; None unless it finds exactly ``names``.

    The fast parser gives no positions; a block-style ``webhooks:`` mapping (the layout
    of every sample and of ``import``) can be read with a regular expression.
    """
    if not names:
        return {}
    start = _WEBHOOKS_KEY.search(text)
    if start is None:
        return None
    after = _TOP_LEVEL_LINE.search(text, start.end())
    end = after.start() if after is not None else len(text)
    found: list[tuple[str, int]] = []
    indent: str | None = None
    line, pos = text.count("\n", 0, start.start()) + 1, start.start()
    for match in _NAME_KEY.finditer(text, start.end(), end):
        indent = match.group(1) if indent is None else indent
        if match.group(1) != indent:
            continue
        line += text.count("\n", pos, match.start())
        pos = match.start()
        found.append((match.group(2) or match.group(3) or match.group(4), line))
    if [name for name, _ in found] != names:
        return None
    return dict(found)


# --- analysis: schema, references, defaults, semantic checks ------------------------------------


@dataclass
class _Analysis:
    owner: str = ""
    findings: list[Finding] = field(default_factory=list)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # merged fields
    safety: SafetyThresholds = field(default_factory=SafetyThresholds)
    environment: str | None = None  # the environment whose webhooks these are


def _prefixes(paths: Iterable[YamlPath]) -> set[YamlPath]:
    return {path[:i] for path in paths for i in range(len(path) + 1)}


def _analyse(
    doc: dict[str, Any], context: Context, explained: Iterable[YamlPath] = ()
) -> _Analysis:
    explained = set(explained)
    analysis = _Analysis()
    # A reference where none may be is refused first; the schema's view of that field
    # would only repeat it.
    misplaced = [f for f in reference_findings(doc) if f.path not in explained]
    explained |= {f.path for f in misplaced}
    schema = [f for f in schema_findings(doc, context.catalog) if f.path not in explained]
    seen: set[Finding] = set()
    for finding in (*misplaced, *environments.unknown_webhooks(doc), *(
            () if context.every_environment
            else environments.choice_findings(doc, context.environment))):
        analysis.findings.append(finding)
        seen.add(finding)
    owner = doc.get("owner")
    analysis.owner = owner if isinstance(owner, str) else ""
    safety = doc.get("safety")
    if isinstance(safety, dict):
        analysis.safety = SafetyThresholds(
            safety.get("delete_threshold_percent", SafetyThresholds.percent),
            safety.get("delete_threshold_min_managed", SafetyThresholds.min_managed))
    declared = environments.declared(doc)
    checked = declared if context.every_environment else [
        name for name in (context.environment,) if name in declared]
    if checked and not context.every_environment:
        # One environment chosen: its document is the one checked (its references are the
        # ones plan and apply need; the base's it replaces are not read).
        for finding in schema:
            if finding not in seen:
                seen.add(finding)
                analysis.findings.append(finding)
    else:
        base = environments.Overlay("", {k: v for k, v in doc.items()
                                         if k != environments.KEY})
        analysis.webhooks = _check_layer(base, context, explained, schema, analysis.findings,
                                         seen)
    for name in checked:  # each environment: its document checked as a whole
        layer = environments.overlay(doc, name)
        found = [f for f in schema_findings(layer.doc, context.catalog)
                 if f.path not in explained]
        webhooks = _check_layer(layer, context, explained, found, analysis.findings, seen)
        if name == context.environment:
            analysis.webhooks, analysis.environment = webhooks, name
    return analysis


def _check_layer(layer: environments.Overlay, context: Context, explained: set[YamlPath],
                 schema: list[Finding], sink: list[Finding],
                 seen: set[Finding]) -> dict[str, dict[str, Any]]:
    """Check one environment's document (``schema``: its schema findings); add what is
    found to ``sink`` once, placed where the field came from; return its webhooks."""
    # Fields with a problem already are not checked further (one message per mistake).
    bad = _prefixes([f.path for f in schema] + list(explained))
    found = list(schema)
    checker = Checker(context, bad, found)
    raw_defaults = layer.doc.get("defaults")
    defaults = checker.defaults(raw_defaults if isinstance(raw_defaults, dict) else {})
    webhooks: dict[str, dict[str, Any]] = {}
    hooks = layer.doc.get("webhooks")
    declared = hooks if isinstance(hooks, dict) else {}
    for name, raw in declared.items():
        if isinstance(raw, dict):
            webhooks[name] = checker.webhook(name, raw, defaults)
    found.extend(f for f in rename_findings(declared) if f.path[:3] not in bad)
    for finding in found:
        placed = layer.locate(finding)
        if placed not in seen:
            seen.add(placed)
            sink.append(placed)
    return webhooks


def _config(
    path: Path,
    digest: str,
    analysis: _Analysis,
    lines: dict[str, int],
    warnings: tuple[Problem, ...],
) -> Config:
    """The config of a valid analysis (the schema vouches for every field's type)."""
    webhooks = {
        name: _spec(name, fields, lines.get(name, 0)) for name, fields in analysis.webhooks.items()
    }
    return Config(path, 1, analysis.owner, webhooks, digest, warnings,  # the only version
                  environment=analysis.environment, safety=analysis.safety)


def _spec(name: str, fields: dict[str, Any], line: int) -> WebhookSpec:
    url_only = fields["type"] == "url"
    return WebhookSpec(
        name=name,
        type=fields["type"],
        application=fields["application"],
        notifications=tuple(sorted(set(fields["notifications"]))),
        url=fields.get("url"),
        email=fields.get("email"),
        secret=fields["secret"],
        support_email=fields.get("support_email"),
        format=fields.get("format", formats.DEFAULT) if url_only else formats.DEFAULT,
        enabled=fields.get("enabled", True),
        description=fields.get("description", ""),
        prevent_destroy=fields.get("prevent_destroy", False),
        test_on_apply=fields.get("test_on_apply", False) if url_only else False,
        secret_grace=fields["secret_grace"],
        renamed_from=tuple(fields.get("renamed_from", ())),
        line=line,
        url_source=fields.get("url_source"),
    )

"""Load ``webhooks.yaml``: read, parse, check, resolve references, merge defaults.

The happy path parses with yaml-rs and validates once; any problem at all (or any
construct the two parsers might read differently) re-reads the file with positions, and
that reading is the authority for every message (see ``reconciler.yamlload``).

References: ``${env:NAME}`` and ``${file:PATH}`` (PATH relative to the config file; the
content loses one trailing newline) are resolved in the free-text fields ``url``,
``email``, ``support_email``, ``secret`` and ``description``, and nowhere else: names,
``type``, ``application``, ``notifications`` and ``format`` decide what a change does, so
a reviewer must read them in the file. ``secret`` must be exactly one reference. Write
``$${`` for a literal ``${``.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from contract import formats
from contract.urls import url_problem
from reconciler import validate, yamlload
from reconciler.errors import ConfigError, Problem, Severity
from reconciler.model import Catalog, Config, Secret, WebhookSpec
from reconciler.validate import Finding
from reconciler.yamlload import MAX_FILE_BYTES, YamlPath

__all__ = ["INTERPOLATED_FIELDS", "MAX_FILE_BYTES", "ConfigReport", "load_config", "read_config"]

SecretsMode = Literal["require", "optional"]

INTERPOLATED_FIELDS = ("url", "email", "support_email", "secret", "description")
MAX_REFERENCED_FILE_BYTES = 64 * 1024

_REFERENCE = re.compile(
    r"\$\$\{"  # an escaped, literal ${
    r"|\$\{(?:env:([A-Za-z_][A-Za-z0-9_]*)|file:([^}]+))\}"
    r"|\$\{[^}]*\}?"  # anything else that starts like a reference is a mistake
)
_SECRET_REFERENCE = re.compile(r"\$\{(?:env:[A-Za-z_][A-Za-z0-9_]*|file:[^}]+)\}\Z")


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
) -> Config:
    """Read and check ``path``; ConfigError with every problem when it is invalid.

    ``secrets="optional"`` (for ``validate``) makes unset variables and missing files
    warnings; ``catalog`` adds the checks against the backoffice (stores, terminals,
    notification types).
    """
    report = read_config(path, secrets=secrets, catalog=catalog)
    if report.config is None:
        raise ConfigError(list(report.problems))
    return report.config


def read_config(
    path: Path,
    *,
    secrets: SecretsMode = "require",
    catalog: Catalog | None = None,
    fast: bool = True,
) -> ConfigReport:
    """Like ``load_config``, but returns the problems; ``fast=False`` skips the fast parser."""
    file = str(path)
    data = _read_bytes(path)
    if isinstance(data, Problem):
        return ConfigReport(path, None, (data,))
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = yamlload.decode(data)
    except yamlload.DecodeError as exc:
        return ConfigReport(path, None, (_problem(file, exc.problem),))
    context = _Context(path.parent, secrets, catalog)
    if fast and yamlload.fast_path_allowed(text):
        report = _try_fast(path, text, digest, context)
        if report is not None:
            return report
    return _read_slow(path, text, digest, context)


@dataclass(frozen=True)
class _Context:
    base_dir: Path
    secrets: SecretsMode
    catalog: Catalog | None


def _read_bytes(path: Path) -> bytes | Problem:
    file = str(path)
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


def _problem(file: str, problem: yamlload.YamlProblem) -> Problem:
    return Problem(file, problem.line, problem.col, problem.message, "error", problem.path)


# --- the two paths ----------------------------------------------------------------------------


def _try_fast(path: Path, text: str, digest: str, context: _Context) -> ConfigReport | None:
    """The config from the fast parse, or None when anything needs explaining."""
    try:
        doc = yamlload.load_fast(text)
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


def _read_slow(path: Path, text: str, digest: str, context: _Context) -> ConfigReport:
    file = str(path)
    slow = yamlload.load_slow(text)
    problems = [_problem(file, p) for p in slow.problems]
    analysis: _Analysis | None = None
    count: int | None = None
    if isinstance(slow.value, dict):
        analysis = _analyse(slow.value, context, slow.explained)
        problems.extend(_locate(file, f, slow) for f in analysis.findings)
        webhooks = slow.value.get("webhooks")
        count = len(webhooks) if isinstance(webhooks, dict) else None
    elif slow.value is not None:
        shown = repr(slow.value) if len(repr(slow.value)) <= 40 else repr(slow.value)[:37] + "..."
        kind = "a list" if isinstance(slow.value, list) else f"the value {shown}"
        problems.append(
            Problem(
                file,
                1,
                1,
                f"the top level must be a mapping with version, owner and webhooks, not {kind}",
            )
        )
    problems.sort()
    if analysis is None or any(p.severity == "error" for p in problems):
        return ConfigReport(path, None, tuple(problems), count)
    lines = {name: slow.keys.get(("webhooks", name), (0, 0))[0] for name in analysis.webhooks}
    warnings = tuple(p for p in problems if p.severity == "warning")
    config = _config(path, digest, analysis, lines, warnings)
    return ConfigReport(path, config, tuple(problems), count)


def _locate(file: str, finding: Finding, slow: yamlload.SlowDocument) -> Problem:
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


def _prefixes(paths: Iterable[YamlPath]) -> set[YamlPath]:
    return {path[:i] for path in paths for i in range(len(path) + 1)}


def _analyse(
    doc: dict[str, Any], context: _Context, explained: Iterable[YamlPath] = ()
) -> _Analysis:
    explained = set(explained)
    analysis = _Analysis()
    analysis.findings = [
        f for f in validate.schema_findings(doc, context.catalog) if f.path not in explained
    ]
    # Fields with a problem already are not checked further (one message per mistake).
    bad = _prefixes([f.path for f in analysis.findings] + list(explained))
    checker = _Checker(context, bad, analysis.findings)
    owner = doc.get("owner")
    analysis.owner = owner if isinstance(owner, str) else ""
    raw_defaults = doc.get("defaults")
    defaults = checker.defaults(raw_defaults if isinstance(raw_defaults, dict) else {})
    webhooks = doc.get("webhooks")
    for name, raw in (webhooks if isinstance(webhooks, dict) else {}).items():
        if isinstance(raw, dict):
            analysis.webhooks[name] = checker.webhook(name, raw, defaults)
    return analysis


class _Checker:
    """The checks a schema cannot make, with references resolved along the way."""

    def __init__(self, context: _Context, bad: set[YamlPath], findings: list[Finding]) -> None:
        self.context = context
        self.catalog = context.catalog
        self.bad = bad
        self.findings = findings
        self.references = _References(context.base_dir, context.secrets)

    def usable(self, parent: YamlPath, key: str, raw: dict[str, Any]) -> bool:
        """Whether ``raw[key]`` is there and has no problem reported yet."""
        return key in raw and (*parent, key) not in self.bad

    def error(self, path: YamlPath, message: str | None, *, at_key: bool = False) -> None:
        if message is not None:
            self.findings.append(Finding(path, message, at_key=at_key))

    def text(self, parent: YamlPath, key: str, raw: dict[str, Any]) -> str | None:
        """The field's text with references resolved; None when unusable or unavailable."""
        value = raw.get(key)
        if not self.usable(parent, key, raw) or not isinstance(value, str):
            return None
        resolved, findings = self.references.text((*parent, key), value)
        self.findings.extend(findings)
        return resolved

    def shared(self, path: YamlPath, raw: dict[str, Any]) -> dict[str, Any]:
        """Checks of the fields defaults and webhooks share; returns resolved values."""
        if self.catalog is not None and self.usable(path, "application", raw):
            problem = validate.application_problem(raw["application"], self.catalog)
            self.error((*path, "application"), problem)
        if self.catalog is not None and self.usable(path, "notifications", raw):
            self.findings.extend(
                validate.notification_findings(
                    (*path, "notifications"), raw["notifications"], self.catalog
                )
            )
        support = self.text(path, "support_email", raw)
        if support is None:
            return {}
        self.error((*path, "support_email"), validate.email_problem(support))
        return {"support_email": support}

    def defaults(self, raw: dict[str, Any]) -> dict[str, Any]:
        # Values with problems stay: the problem is reported once, here, not per webhook.
        merged = {k: v for k, v in raw.items() if k in validate.DEFAULT_FIELDS}
        merged.update(self.shared(("defaults",), raw))
        return merged

    def webhook(self, name: str, raw: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
        """Check one webhook; return its fields with defaults merged and references resolved."""
        path: YamlPath = ("webhooks", name)
        kind = raw.get("type")
        merged = {
            k: v for k, v in defaults.items() if kind == "url" or k not in validate.URL_ONLY_FIELDS
        }
        merged.update(raw)
        for key, where in (
            ("application", "set it here or in defaults"),
            ("notifications", "list them here or in defaults"),
        ):
            if key not in merged:
                self.error(path, f"missing required key {key!r} ({where})", at_key=True)
        merged.update(self.shared(path, raw))
        for key in ("url", "email", "description"):
            value = self.text(path, key, raw)
            if value is not None:
                merged[key] = value
                if key == "url" and kind == "url":
                    self.error((*path, key), url_problem(value))
                elif key == "email" and kind == "email":
                    self.error((*path, key), validate.email_problem(value))
        merged["secret"] = None
        if self.usable(path, "secret", raw) and isinstance(raw["secret"], str):
            fmt = merged.get("format", formats.DEFAULT)
            merged["secret"] = self.secret((*path, "secret"), raw["secret"], fmt)
        return merged

    def secret(self, path: YamlPath, raw: str, delivery_format: object) -> Secret | None:
        if _SECRET_REFERENCE.match(raw) is None:  # the schema says so too; never echo it
            self.error(path, "a literal secret is not allowed: write ${env:NAME} or ${file:PATH}")
            return None
        source = raw[2:-1]
        value, findings = self.references.text(path, raw)
        self.findings.extend(findings)
        if value is not None and (*path[:-1], "format") not in self.bad:
            fmt = delivery_format if isinstance(delivery_format, str) else formats.DEFAULT
            self.error(path, validate.secret_problem(value, fmt, source))
        return Secret(source=source, value=value)


class _References:
    """Resolves ``${env:NAME}`` and ``${file:PATH}``; each source is read once."""

    def __init__(self, base_dir: Path, mode: SecretsMode) -> None:
        self.base_dir = base_dir
        self.mode = mode
        self.cache: dict[str, tuple[str | None, str | None, bool]] = {}

    def text(self, path: YamlPath, raw: str) -> tuple[str | None, list[Finding]]:
        """``raw`` with references replaced; None (and findings) when one is unavailable."""
        if "${" not in raw:
            return raw, []
        findings: list[Finding] = []
        available = True

        def replace(match: re.Match[str]) -> str:
            nonlocal available
            token = match.group()
            if token == "$${":
                return "${"
            name, file = match.group(1), match.group(2)
            if name is None and file is None:
                available = False
                shown = "the reference" if path[-1] == "secret" else repr(token)
                findings.append(
                    Finding(
                        path,
                        f"{shown} is not ${{env:NAME}} or ${{file:PATH}} "
                        "(write $${ for a literal ${)",
                    )
                )
                return token
            value, problem, missing = self.lookup(name, file)
            if value is None:
                available = False
                severity: Severity = "warning" if missing and self.mode == "optional" else "error"
                note = "; not checked (plan and apply need it)" if severity == "warning" else ""
                findings.append(Finding(path, f"{problem}{note}", severity))
                return token
            return value

        resolved = _REFERENCE.sub(replace, raw)
        return (resolved if available else None), findings

    def lookup(self, name: str | None, file: str | None) -> tuple[str | None, str | None, bool]:
        """(value, problem, missing) for one reference."""
        key = f"env:{name}" if name is not None else f"file:{file}"
        if key not in self.cache:
            self.cache[key] = self._env(name) if name is not None else self._file(str(file))
        return self.cache[key]

    @staticmethod
    def _env(name: str) -> tuple[str | None, str | None, bool]:
        value = os.environ.get(name)
        if value is None:
            return None, f"environment variable {name} is not set", True
        return value, None, False

    def _file(self, ref: str) -> tuple[str | None, str | None, bool]:
        target = self.base_dir / ref  # an absolute PATH stays absolute
        where = f"file {ref!r}" + ("" if Path(ref).is_absolute() else f" (at {target})")
        try:
            with target.open("rb") as handle:
                data = handle.read(MAX_REFERENCED_FILE_BYTES + 1)
        except FileNotFoundError:
            return None, f"{where} does not exist", True
        except IsADirectoryError:
            return None, f"{where} is a directory", False
        except OSError as exc:
            return None, f"cannot read {where}: {exc.strerror or exc}", False
        if len(data) > MAX_REFERENCED_FILE_BYTES:
            return None, f"{where} is larger than {MAX_REFERENCED_FILE_BYTES // 1024} KiB", False
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError:
            return None, f"{where} is not UTF-8 text", False
        if content.endswith("\r\n"):
            content = content[:-2]
        elif content.endswith("\n"):
            content = content[:-1]
        return content, None, False


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
    return Config(path, 1, analysis.owner, webhooks, digest, warnings)  # the only version


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
        line=line,
    )

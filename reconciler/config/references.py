"""``${env:NAME}`` and ``${file:PATH}`` references, resolved once each.

They are resolved in the free-text fields ``INTERPOLATED_FIELDS`` and nowhere else:
names, ``type``, ``application``, ``notifications`` and ``format`` decide what a change
does, so a reviewer must read them in the file. PATH is relative to the config file, and
the content loses one trailing newline. ``secret`` must be exactly one reference. Write
``$${`` for a literal ``${``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from reconciler.config.findings import Finding
from reconciler.config.yamlnodes import YamlPath
from reconciler.errors import Severity

# require: plan and apply; optional: validate (unset ones are warnings); skip: plan
# --skip-secrets (secrets are not read at all; other references are required)
SecretsMode = Literal["require", "optional", "skip"]

INTERPOLATED_FIELDS = ("url", "email", "support_email", "secret", "description")
MAX_REFERENCED_FILE_BYTES = 64 * 1024

REFERENCE = re.compile(
    r"\$\$\{"  # an escaped, literal ${
    r"|\$\{(?:env:([A-Za-z_][A-Za-z0-9_]*)|file:([^}]+))\}"
    r"|\$\{[^}]*\}?"  # anything else that starts like a reference is a mistake
)
SECRET_REFERENCE = re.compile(r"\$\{(?:env:[A-Za-z_][A-Za-z0-9_]*|file:[^}]+)\}\Z")


class References:
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

        resolved = REFERENCE.sub(replace, raw)
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

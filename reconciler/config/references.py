"""``${env:NAME}`` and ``${file:PATH}`` references, resolved once each.

A reference reads a value from outside the file, so what it reads is treated as a secret
everywhere: references are allowed only where the value is sensitive, ``secret`` and
``url`` (the whole URL, or within its credentials), and nowhere else
(``reconciler.config.reference_places`` says where). ``$${`` is a literal ``${`` in any
text field.

- ``${file:PATH}``: PATH is relative to the config file's directory, or absolute (such as
  ``/run/secrets/orders``). Only a regular file of at most 64 KiB is read: a FIFO, a
  device, a directory or anything under ``/proc``, ``/sys`` or ``/dev`` is refused, and
  the file is opened without blocking, so a FIFO can never hang a command. The content
  loses one trailing newline.
- ``${env:NAME}``: any variable but this tool's own credentials and CI job tokens
  (``refused_variable``), which no webhook needs and which must never reach a backoffice.

No message ever carries a value read through a reference.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Literal

from reconciler.config.findings import Finding
from reconciler.config.yamlnodes import YamlPath
from reconciler.errors import Severity

# require: plan and apply; optional: validate (unset ones are warnings); skip: plan
# --skip-secrets (secrets are not read at all; other references are required)
SecretsMode = Literal["require", "optional", "skip"]

REFERENCE_FIELDS = ("secret", "url")  # where a reference may be: the sensitive fields
MAX_REFERENCED_FILE_BYTES = 64 * 1024

REFERENCE = re.compile(
    r"\$\$\{"  # an escaped, literal ${
    r"|\$\{(?:env:([A-Za-z_][A-Za-z0-9_]*)|file:([^}]+))\}"
    r"|\$\{[^}]*\}?"  # anything else that starts like a reference is a mistake
)
SECRET_REFERENCE = re.compile(r"\$\{(?:env:[A-Za-z_][A-Za-z0-9_]*|file:[^}]+)\}\Z")

# The one list of variables a reference may not read: this tool's own credentials (a URL
# that may carry a password counts), and the job tokens CI systems put in every job.
TOOL_CREDENTIALS = frozenset({
    "WEBHOOKS_API_TOKEN", "WEBHOOKS_API_URL", "WEBHOOKS_DB_URL", "WEBHOOKS_SERVER_KEY",
    "WEBHOOKS_SMTP_PASSWORD", "WEBHOOKS_COPY_FROM", "WEBHOOKS_COPY_TO", "PGPASSWORD",
})
CI_JOB_TOKENS = frozenset({
    "GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "CI_JOB_TOKEN", "CI_REGISTRY_PASSWORD", "CI_DEPLOY_PASSWORD",
    "CI_DEPENDENCY_PROXY_PASSWORD", "CI_REPOSITORY_URL", "GITLAB_COMMENT_TOKEN",
    "BITBUCKET_STEP_OIDC_TOKEN", "SYSTEM_ACCESSTOKEN", "CIRCLE_OIDC_TOKEN",
    "CIRCLE_OIDC_TOKEN_V2", "BUILDKITE_AGENT_ACCESS_TOKEN",
})
# Any other token, JWT or password a CI system names with its own prefix (CI_JOB_JWT_V2,
# a future ACTIONS_..._TOKEN); a merchant's own GITHUB_WEBHOOK_SECRET stays usable.
_CI_PREFIXED_TOKEN = re.compile(
    r"(?:GITHUB|ACTIONS|CI|GITLAB|BITBUCKET|CIRCLE|BUILDKITE|SYSTEM)_\w*(?:TOKEN|JWT|PASSWORD)\w*"
)
_SPECIAL_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))


def refused_variable(name: str) -> str | None:
    """Why ``${env:NAME}`` may not read this variable, or None when it may."""
    if name in TOOL_CREDENTIALS:
        return (f"{name} is one of this tool's own credentials, not a webhook's: a "
                "reference may not read it")
    if name in CI_JOB_TOKENS or _CI_PREFIXED_TOKEN.fullmatch(name):
        return (f"{name} is a CI job token, not a webhook's secret: a reference may not "
                "read it")
    return None


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
        refused = refused_variable(name)
        if refused is not None:
            return None, refused, False
        value = os.environ.get(name)
        if value is None:
            return None, f"environment variable {name} is not set", True
        return value, None, False

    def _file(self, ref: str) -> tuple[str | None, str | None, bool]:
        target = self.base_dir / ref  # an absolute PATH stays absolute
        where = f"file {ref!r}" + ("" if Path(ref).is_absolute() else f" (at {target})")
        data = read_regular_file(target, where)
        if isinstance(data, tuple):
            return data
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError:
            return None, f"{where} is not UTF-8 text", False
        if content.endswith("\r\n"):
            content = content[:-2]
        elif content.endswith("\n"):
            content = content[:-1]
        return content, None, False


def read_regular_file(target: Path, where: str) -> bytes | tuple[None, str, bool]:
    """The bytes of a regular file of at most 64 KiB, or (None, problem, missing).

    Opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor (what
    was opened is what was checked): a FIFO or a device is refused without blocking.
    """
    try:
        real = target.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None, f"cannot read {where}: it cannot be resolved", False
    special = next((t for t in _SPECIAL_TREES if real == t or t in real.parents), None)
    if special is not None:
        return None, (f"{where} is under {special}, which holds no regular files: only "
                      "regular files may be referenced"), False
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
    except FileNotFoundError:
        return None, f"{where} does not exist", True
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            return None, f"{where} is a directory", False
        if exc.errno == errno.ENXIO:  # a FIFO with no writer, opened for reading: never
            return None, f"{where} is not a regular file", False
        return None, f"cannot read {where}: {exc.strerror or exc}", False
    try:
        info = os.fstat(fd)
        if info.st_dev in _special_devices():  # swapped for a /proc file since resolved
            return None, f"{where} is not a regular file", False
        if stat.S_ISDIR(info.st_mode):
            return None, f"{where} is a directory", False
        if not stat.S_ISREG(info.st_mode):
            return None, f"{where} is not a regular file (a FIFO, socket or device)", False
        if info.st_size > MAX_REFERENCED_FILE_BYTES:
            return None, _too_large(where), False
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_REFERENCED_FILE_BYTES:
            chunk = os.read(fd, MAX_REFERENCED_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return None, f"cannot read {where}: {exc.strerror or exc}", False
    finally:
        os.close(fd)
    if size > MAX_REFERENCED_FILE_BYTES:  # it grew while we read
        return None, _too_large(where), False
    return b"".join(chunks)


def _special_devices() -> set[int]:
    """The devices of /proc and /sys, whose "regular" files are not files at all."""
    found = set()
    for tree in _SPECIAL_TREES[:2]:
        try:
            found.add(os.stat(tree).st_dev)
        except OSError:
            continue
    return found


def _too_large(where: str) -> str:
    return f"{where} is larger than {MAX_REFERENCED_FILE_BYTES // 1024} KiB"

"""Config problems in the formats CI systems read: GitHub annotations, GitLab Code Quality.

GitHub: one workflow command per problem on standard output,
``::error file=F,line=L,col=C,title=T::message`` (``::warning`` for warnings), escaped as
GitHub documents it: ``%``, ``\\r`` and ``\\n`` in the message; those and also ``:`` and
``,`` in the properties.

GitLab: a Code Quality report, a JSON list of issues with ``description``, ``check_name``,
``fingerprint``, ``severity`` and ``location: {path, lines: {begin}}``. The fingerprint
leaves the line out, so a problem that only moved is the same problem to GitLab's
merge-request widget (which compares the fingerprints of both branches).

Paths are made relative to the repository root when one is given (``GITHUB_WORKSPACE``,
``CI_PROJECT_DIR``): both systems place annotations by repository-relative path.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import PurePosixPath

from reconciler.errors import Problem

TITLE = "webhooks validate"
GITLAB_SEVERITY = {"error": "major", "warning": "minor"}


def repo_path(file: str, root: str | None) -> str:
    """``file`` relative to ``root`` (when inside it), with forward slashes and no ``./``."""
    shown = file
    if root:
        relative = os.path.relpath(os.path.abspath(file), os.path.abspath(root))
        if relative != ".." and not relative.startswith(".." + os.sep):
            shown = relative
    posix = PurePosixPath(shown.replace(os.sep, "/")).as_posix()
    return posix.removeprefix("./")


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as a message, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem, root: str | None = None) -> str:
    """One problem as a GitHub workflow command (an error or warning annotation)."""
    command = "warning" if problem.severity == "warning" else "error"
    properties = {
        "file": repo_path(problem.file, root),
        "line": str(problem.line),
        "col": str(problem.col),
        "title": TITLE,
    }
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command} {props}::{escape_data(problem.message)}"


def check_name(problem: Problem) -> str:
    """A stable name for the kind of check: the field the problem is about."""
    parts = [str(p) for p in problem.path]
    if len(parts) >= 3 and parts[0] == "webhooks":
        field = parts[2]  # webhooks.<name>.<field>: the field, not the webhook's name
    elif parts and parts[0] == "webhooks":
        field = "webhook"
    elif len(parts) >= 2 and parts[0] == "defaults":
        field = f"defaults.{parts[1]}"
    else:
        field = parts[0] if parts else "file"
    return f"webhooks-validate/{field}"


def gitlab_code_quality(
    problems: Iterable[Problem], root: str | None = None
) -> list[dict[str, object]]:
    """The problems as a GitLab Code Quality report (a list of issues)."""
    issues: list[dict[str, object]] = []
    seen: set[str] = set()
    for problem in problems:
        path = repo_path(problem.file, root)
        # Where in the document, not which line: stable when lines above it move.
        where = "/".join(str(p) for p in problem.path) or f"line {problem.line}"
        basis = "\x00".join((path, check_name(problem), where, problem.message))
        fingerprint = hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]
        n = 1
        while fingerprint in seen:  # GitLab shows only the first issue of a fingerprint
            n += 1
            fingerprint = hashlib.sha256(f"{basis}\x00{n}".encode()).hexdigest()[:32]
        seen.add(fingerprint)
        issues.append({
            "description": problem.message,
            "check_name": check_name(problem),
            "fingerprint": fingerprint,
            "severity": GITLAB_SEVERITY[problem.severity],
            "location": {"path": path, "lines": {"begin": problem.line}},
        })
    return issues

"""The config in git: its revision now (recorded by apply), and its text at another revision
(``webhooks plan --base REV``, the pull request's base).

git runs as a program with an argument list (never a shell), with prompts, pagers and
external helpers off. A revision is checked before git sees it: it cannot start with
``-`` (an option) and holds only the characters of branch names, tags, commit ids and
``~``/``^`` suffixes; git then resolves it to a commit (``--end-of-options``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ReconcilerError

REVISION_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./@{}~^+-]{0,199}")
TIMEOUT_S = 20.0
MAX_CONFIG_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class BaseConfig:
    """The config file's bytes at a revision (None when the file did not exist there)."""

    revision: str  # as given
    commit: str  # what git resolved it to
    data: bytes | None


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    """Run git in ``directory``; None when git is not installed."""
    program = shutil.which("git")
    if program is None:
        return None
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C",
           "GIT_OPTIONAL_LOCKS": "0"}
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    try:
        return subprocess.run(
            [program, "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
             "-C", str(directory), *args],
            capture_output=True, env=env, timeout=TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def revision(config_file: Path) -> str | None:
    """The commit checked out where ``config_file`` lives, ``-dirty`` when the file differs
    from it (or is not committed); None outside a git work tree or without git."""
    directory = config_file.resolve().parent
    head = _git(directory, "rev-parse", "--verify", "--quiet", "HEAD")
    if head is None or head.returncode != 0:
        return None
    commit = head.stdout.decode("ascii", "replace").strip()
    if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit) is None:
        return None
    status = _git(directory, "status", "--porcelain", "--untracked-files=all", "--",
                  config_file.name)
    dirty = status is None or status.returncode != 0 or bool(status.stdout.strip())
    return commit + ("-dirty" if dirty else "")


def check_revision(rev: str) -> str:
    """``rev`` when it may be given to git; a clear error otherwise (never echoed raw)."""
    if REVISION_RE.fullmatch(rev) is None or ".." in rev or ("@{" in rev and "}" not in rev):
        shown = rev[:60].encode("unicode_escape").decode("ascii")
        raise ReconcilerError(
            f"--base {shown!r} is not a revision: give a branch, tag or commit "
            "(e.g. origin/main or a commit id)")
    return rev


def config_at(rev: str, config_file: Path) -> BaseConfig:
    """The config file as it was at ``rev`` in the repository that holds it."""
    check_revision(rev)
    directory = config_file.resolve().parent
    prefix = _git(directory, "rev-parse", "--show-prefix")
    if prefix is None:
        raise ReconcilerError("--base needs git, which is not installed")
    if prefix.returncode != 0:
        raise ReconcilerError(f"--base: {directory} is not in a git repository")
    resolved = _git(directory, "rev-parse", "--verify", "--quiet", "--end-of-options",
                    f"{rev}^{{commit}}")
    if resolved is None or resolved.returncode != 0:
        raise ReconcilerError(
            f"--base {rev!r}: no such commit in this repository (fetch it first, e.g. "
            "`git fetch origin main`, or check out with enough history)")
    commit = resolved.stdout.decode("ascii", "replace").strip()
    path = prefix.stdout.decode("utf-8", "replace").strip() + config_file.name
    listed = _git(directory, "ls-tree", "-z", "--full-tree", commit, "--", path)
    if listed is None or listed.returncode != 0 or not listed.stdout:
        return BaseConfig(rev, commit, None)  # the pull request adds the file
    shown = _git(directory, "cat-file", "blob", f"{commit}:{path}")
    if shown is None or shown.returncode != 0:
        raise ReconcilerError(f"--base {rev!r}: cannot read {path} at {commit[:12]}")
    if len(shown.stdout) > MAX_CONFIG_BYTES:
        raise ReconcilerError(f"--base {rev!r}: {path} is larger than "
                              f"{MAX_CONFIG_BYTES // 2**20} MiB at {commit[:12]}")
    return BaseConfig(rev, commit, shown.stdout)

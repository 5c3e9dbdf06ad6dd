"""The one exception tree of the reconciler, and its exit codes.

    ReconcilerError                 expected failure, exit 1
    ├── ConfigError                 the config is invalid (carries every Problem at once)
    ├── ProviderError               the backoffice refused or could not be reached
    │   ├── AuthenticationError       missing or bad token (401)
    │   ├── PermissionDenied          the token lacks a permission (403)
    │   ├── NotFound                  no such webhook (404)
    │   ├── Conflict                  the name is taken, or another owner's (409)
    │   ├── PreconditionFailed        changed since plan (412)
    │   ├── InvalidRequest            the backoffice rejected the body (400/422)
    │   │   └── EmailWebhookNotTestable   only URL webhooks have a test
    │   └── Unavailable               connection refused, timeouts, 429/5xx after retries
    │       └── RateLimited               429 with a wait too long to retry: says how long
    ├── PlanError
    │   ├── InvalidPlanFile           a plan file that cannot be read or is not valid
    │   ├── StalePlan                 a saved plan no longer matches the actual state
    │   └── UnsafePlan                bulk deletes or prevent_destroy
    └── Aborted                       the user declined, or consent was impossible

Anything else that escapes is a bug: the CLI prints one line and exits 3.
The CLI maps this tree to exit codes in one place (``reconciler.cli``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BUG = 3
EXIT_CHANGES = 2  # plan --detailed-exitcode: there are changes
EXIT_INTERRUPTED = 130

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about a config file, located at ``file:line:col`` (1-based)."""

    file: str
    line: int
    col: int
    message: str
    severity: Severity = "error"
    path: tuple[str | int, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {prefix}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "message": self.message,
            "path": [str(p) for p in self.path],
        }


class ReconcilerError(Exception):
    """An expected failure: the message is for the user, the exit code is 1."""

    exit_code: int = EXIT_ERROR


class ConfigError(ReconcilerError):
    """The config is invalid; ``problems`` holds every finding, sorted."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "invalid config")


class ProviderError(ReconcilerError):
    """The backoffice refused a request or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthenticationError(ProviderError):
    pass


class PermissionDenied(ProviderError):
    pass


class NotFound(ProviderError):
    pass


class Conflict(ProviderError):
    pass


class PreconditionFailed(ProviderError):
    pass


class InvalidRequest(ProviderError):
    pass


class Unavailable(ProviderError):
    pass


class RateLimited(Unavailable):
    """The backoffice refused for now (429); ``retry_after``: the seconds it said to wait."""

    def __init__(self, message: str, *, status: int | None = 429,
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PlanError(ReconcilerError):
    pass


class StalePlan(PlanError):
    pass


class UnsafePlan(PlanError):
    pass


class Aborted(ReconcilerError):
    pass

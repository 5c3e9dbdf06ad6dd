"""A problem at a path of the document, before it has a place in the file.

Every check (schema, references, semantic) returns ``Finding``s; the loader places each
at its key or value and turns it into a ``Problem``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.config.yamlnodes import YamlPath, format_path
from reconciler.errors import Severity


@dataclass(frozen=True)
class Finding:
    """One problem at a path of the document; ``at_key`` places it on the key, not the value."""

    path: YamlPath
    message: str
    severity: Severity = "error"
    at_key: bool = False

    @property
    def text(self) -> str:
        return f"{format_path(self.path)}: {self.message}" if self.path else self.message


def did_you_mean(word: object, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a candidate is close to ``word``, else ``""``."""
    if not isinstance(word, str):
        return ""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6) or [
        lowered[m] for m in difflib.get_close_matches(word.lower(), lowered, n=1, cutoff=0.6)
    ]
    return f"; did you mean {match[0]!r}?" if match else ""

"""JSON read strictly: a key given twice in one object is refused.

Python's ``json`` keeps the last of two equal keys, so ``{"type": "url", "type": "email"}``
reads as an e-mail webhook while a proxy, a log or a reviewer that keeps the first sees a
URL one. Which one was meant is unknowable, so the text is refused, naming the key. The
API reads every request body with it, and ``apply`` every plan file.
"""

from __future__ import annotations

import json
from typing import Any


class DuplicateKey(ValueError):
    """An object with a key twice; ``str()`` names the key (cut at 64 characters)."""

    def __init__(self, key: str) -> None:
        self.key = key
        shown = repr(key) if len(key) <= 64 else repr(key[:64]) + "..."
        super().__init__(f"the key {shown} is given twice in one object")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):  # rare: only then look for the key
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return found


def loads(text: bytes | str) -> Any:
    """JSON text as Python values; DuplicateKey when an object repeats a key (and what
    ``json.loads`` raises otherwise)."""
    return json.loads(text, object_pairs_hook=_object)

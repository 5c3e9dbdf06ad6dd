"""Page cursors: an opaque token for "continue after this row", one spelling per list.

A cursor is the URL-safe base64 (unpadded) of ``<kind>:<row pk>`` (or of two text keys,
``<kind>:<first>|<second>``, for a list ordered by them), so a cursor of one
list is refused by another and a forged or truncated one is a clear 422.
"""

from __future__ import annotations

import base64
import re

from backoffice.errors import Invalid


def encode(kind: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{pk}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str, *, start: str) -> int:
    """The row pk in ``cursor``; Invalid (naming where an omitted cursor starts) if not."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        text = ""
    match = re.fullmatch(rf"{re.escape(kind)}:([0-9]{{1,18}})", text) if len(cursor) <= 40 \
        else None
    if match is None:
        raise Invalid("cursor is not valid: pass the next_cursor of a previous page, "
                      f"or omit it to start from {start}")
    return int(match.group(1))


def encode_pair(kind: str, first: str, second: str) -> str:
    """A cursor after a row ordered by two text keys (a moment, then an id)."""
    return base64.urlsafe_b64encode(f"{kind}:{first}|{second}".encode()).decode().rstrip("=")


def decode_pair(kind: str, cursor: str, *, first: str, second: str,
                start: str) -> tuple[str, str]:
    """The two keys in ``cursor``, each matching its pattern; Invalid if not."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        text = ""
    match = (re.fullmatch(rf"{re.escape(kind)}:({first})\|({second})", text)
             if len(cursor) <= 120 else None)
    if match is None:
        raise Invalid("cursor is not valid: pass the next_cursor of a previous page, "
                      f"or omit it to start from {start}")
    return match.group(1), match.group(2)

"""Terminal safety: text from a backoffice or a receiver, made safe to print.

A description, a name or a receiver's answer could carry control characters that move
the cursor or fake lines; every view shows them as escapes instead.
"""

from __future__ import annotations

import re

# What a terminal must not receive raw: C0/C1 controls, DEL, the Unicode line and
# paragraph separators (a description could otherwise move the cursor or fake lines),
# and the bidirectional controls and invisible marks that make text read otherwise
# than it is (U+202E turns "gpj.exe" into "exe.jpg"; U+FEFF and U+200B hide).
_UNSAFE_FOR_TERMINAL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes, safe to print on a terminal."""
    if _UNSAFE_FOR_TERMINAL.search(text) is None:
        return text
    return _UNSAFE_FOR_TERMINAL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)

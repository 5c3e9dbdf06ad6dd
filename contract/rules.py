"""Text rules both sides apply: webhook names, codes, applications, e-mail addresses,
and the characters no text field may hold.

Each ``*_problem`` function returns why a value breaks its rule (a short phrase for
people, never quoting a secret), or None when it is fine. The patterns are also what
the config's JSON Schema and the API's types spell out (a test holds them together).
"""

from __future__ import annotations

import re
from typing import Final

WEBHOOK_TYPES: Final = ("url", "email")

NAME_PATTERN: Final = r"[a-z0-9][a-z0-9._-]{0,62}"
NAME_RULE: Final = ("lower-case letters, digits, '.', '_' and '-', starting with a letter "
                    "or digit, at most 63 characters")
# Store codes and terminal ids.
CODE_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}"
APPLICATION_PATTERN: Final = rf"merchant|(?:store|terminal):{CODE_PATTERN}"
MAX_EMAIL: Final = 254
MAX_DESCRIPTION: Final = 1000
# Characters no text field may hold (names, addresses, URLs, labels): the C0 controls
# (NUL, tab and line breaks included), DEL and the C1 controls, which forge or break lines
# on a terminal and in logs; the invisible marks, embeddings, overrides and isolates that
# make text read in another order than it is stored (U+202E shows "gpj.exe" as
# "exe.jpg"); and lone surrogates, which are no text at all (non-UTF-8 bytes in an
# environment variable read as text become those). A description is free text over
# lines: it may hold tabs and line feeds (every view escapes them), nothing else of these.
_BIDI_AND_SURROGATES: Final = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
UNSAFE_CHARACTERS: Final = "\x00-\x1f\x7f-\x9f" + _BIDI_AND_SURROGATES
UNSAFE_IN_LINES: Final = "\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI_AND_SURROGATES
_UNSAFE: Final = re.compile(f"[{UNSAFE_CHARACTERS}]")
_UNSAFE_IN_LINES: Final = re.compile(f"[{UNSAFE_IN_LINES}]")
_NAME: Final = re.compile(NAME_PATTERN)
_CODE: Final = re.compile(CODE_PATTERN)
# A dot-atom of RFC 5322's atext (ASCII only: no control, space or quote can pass), at
# a domain of two or more labels ending in a name of letters.
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    rf"@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"
)


def is_name(text: str) -> bool:
    """Whether ``text`` is a valid webhook (or owner) name."""
    return _NAME.fullmatch(text) is not None


def is_code(text: str) -> bool:
    """Whether ``text`` is a valid store code or terminal id."""
    return _CODE.fullmatch(text) is not None


def parse_application(text: str) -> tuple[str, str | None] | None:
    """``merchant``, ``store:<code>`` or ``terminal:<id>`` -> (kind, ref); None if neither."""
    if text == "merchant":
        return "merchant", None
    kind, _, ref = text.partition(":")
    if kind in ("store", "terminal") and is_code(ref):
        return kind, ref
    return None


def unsafe_character_problem(text: str, *, lines: bool = False) -> str | None:
    """Why ``text`` holds a character no field may hold (naming it and where), or None.
    ``lines``: free text over lines (a description), where tab and line feed are fine."""
    found = (_UNSAFE_IN_LINES if lines else _UNSAFE).search(text)
    if found is None:
        return None
    char = ord(found.group())
    if char <= 0x9F:
        kind = "a control character"
    elif 0xD800 <= char <= 0xDFFF:
        kind = "a lone surrogate (not valid Unicode text)"
    else:
        kind = "an invisible text-direction character"
    return f"must not contain {kind} (U+{char:04X} at character {found.start() + 1})"


def email_problem(address: str) -> str | None:
    """Why ``address`` is not an e-mail address (local@domain.tld), or None."""
    if len(address) > MAX_EMAIL:
        return f"is too long ({len(address)} characters; at most {MAX_EMAIL})"
    if (unsafe := unsafe_character_problem(address)) is not None:
        return unsafe
    if _EMAIL.fullmatch(address) is None:
        return "must be an e-mail address like someone@shop.example (ASCII, with a domain)"
    return None


def description_problem(text: str) -> str | None:
    """Why ``text`` cannot be a webhook's description, or None."""
    if len(text) > MAX_DESCRIPTION:
        return f"is too long ({len(text)} characters; at most {MAX_DESCRIPTION})"
    return unsafe_character_problem(text, lines=True)

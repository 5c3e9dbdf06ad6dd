"""Text rules both sides apply: webhook names, codes, applications, e-mail addresses.

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


def email_problem(address: str) -> str | None:
    """Why ``address`` is not an e-mail address (local@domain.tld), or None."""
    if len(address) > MAX_EMAIL:
        return f"is too long ({len(address)} characters; at most {MAX_EMAIL})"
    if _EMAIL.fullmatch(address) is None:
        return "must be an e-mail address like someone@shop.example (ASCII, with a domain)"
    return None


def description_problem(text: str) -> str | None:
    """Why ``text`` cannot be a webhook's description, or None."""
    if len(text) > MAX_DESCRIPTION:
        return f"is too long ({len(text)} characters; at most {MAX_DESCRIPTION})"
    if "\x00" in text:
        return "must not contain a NUL character (\\x00)"
    return None

"""The YAML layer: a fast parse for the happy path, a positioned parse to explain problems.

Both parsers read YAML 1.2 core (only ``true``/``false`` are booleans, ``yes`` is text,
no timestamps), so they agree on every document the fast path accepts:

* fast path: ``yaml_rs`` (Rust). No positions. Used only when a cheap screen of the raw
  text finds none of the constructs on which YAML readers disagree.
* slow path: PyYAML's libyaml composer with our own YAML 1.2 core resolver. It keeps the
  line and column of every node, reports duplicate keys, non-string keys, tags, YAML 1.1
  look-alikes (``on``, ``yes``, ``0755``, ``1:20``) and alias bombs, and is the authority
  for every message. Its machinery (resolver, node builder, positions) is in
  ``reconciler.config.yamlnodes``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
import yaml_rs
from yaml.nodes import ScalarNode

from reconciler.config.yamlnodes import (
    ALIAS_EVENT_BUDGET,
    MAX_DEPTH,
    MAX_INT_CHARS,
    Abort,
    Builder,
    Core12Composer,
    SlowDocument,
    YamlProblem,
    syntax_problem,
)

MAX_FILE_BYTES = 8 * 1024 * 1024  # a config of 10,000 webhooks is about 1 MiB

# The screen: anything that might read differently in yaml-rs and libyaml, or that the
# slow path reports, sends the document to the slow path. False alarms only cost time.
# Each pattern starts with a character class so that `re` can skip ahead quickly.
_TOKEN_SCREEN = re.compile(
    r"[\s\[{,](?=[!|>*:?&yYnNoO0-9+\-_.])(?:"  # at the start of a token:
    r"[!|>]"  # tags and block scalars (yaml-rs reads an empty one as "\n")
    r"|\*"  # aliases: yaml-rs reads one inside its own anchor as null
    r"|&(?![A-Za-z0-9_-]+(?:[ \r\n,\]}]|\Z))"  # anchors beyond libyaml's [A-Za-z0-9_-]
    r"|[:?][^ \t\r\n]"  # plain text starting with an indicator (libyaml refuses some)
    r"|(?:[yYnN](?:[eE][sS])?|[nN][oO]|[oO](?:[nN]|[fF][fF]))[ ]*(?:[\r\n:,\]}#]|\Z)"  # 1.1 bools
    r"|[-+]?(?:0[0-9_bBoOxX]|_|[0-9][0-9_]*[_:]|\.(?:[iI][nN][fF]|[nN][aA][nN]))"  # numbers
    r")"
)
# `"\ud83d\ude00"`: yaml-rs joins escaped surrogate pairs, libyaml refuses them.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_DOCUMENT_MARKER = re.compile(r"\n(?:%|\.\.\.|---(?=\s|\Z))")  # directives, ---, ...
_LEADING_COMMENTS = re.compile(r"(?:[ \r]*(?:#[^\n]*)?\n)*")
# Characters outside YAML's printable set, the YAML 1.1 line breaks NEL, LS and PS
# (content in YAML 1.2, line breaks in libyaml) and a byte order mark after the start.
_UNPRINTABLE = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
# Deep block nesting (yaml-rs recurses on `- - - - ...`); a config never indents this far.
_DEEP_BLOCK = re.compile(r"\n(?:[ ]|[-?:][ ]){96}")
# A run of digits that could be a number too long to read (the slow path says so).
_LONG_DIGITS = re.compile(f"[0-9]{{{MAX_INT_CHARS},}}")

_FAST_ALIAS_LIMITS = yaml_rs.AliasLimits(
    max_total_replayed_events=ALIAS_EVENT_BUDGET,
    max_replay_stack_depth=MAX_DEPTH,
)


class DecodeError(ValueError):
    """The bytes are not UTF-8; carries where the first bad byte sits."""

    def __init__(self, problem: YamlProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def decode(data: bytes) -> str:
    """UTF-8 text of a config file (a leading BOM is dropped); DecodeError otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        col = len(data[start : exc.start].decode("utf-8", "replace")) + 1
        raise DecodeError(
            YamlProblem(
                line,
                col,
                f"not valid UTF-8 (at byte offset {exc.start}); save the file as UTF-8",
            )
        ) from None


def fast_path_allowed(text: str) -> bool:
    """Whether the fast parser is sure to read ``text`` as the slow one would."""
    if "\t" in text or _UNPRINTABLE.search(text) or _SURROGATE_ESCAPE.search(text):
        return False  # (libyaml refuses tabs in more places than yaml-rs)
    padded = "\n" + text  # so that the patterns see the first line start a line
    if _TOKEN_SCREEN.search(padded) or _DEEP_BLOCK.search(padded) or _LONG_DIGITS.search(text):
        return False
    marker = _DOCUMENT_MARKER.search(padded)
    if (
        marker is not None
        and marker.group() == "\n---"
        and _LEADING_COMMENTS.fullmatch(padded, 1, marker.start() + 1)
    ):  # an opening `---`, perhaps after comments, is common and harmless
        marker = _DOCUMENT_MARKER.search(padded, marker.end())
    return marker is None and _flow_on_single_lines(text)


def _flow_on_single_lines(text: str) -> bool:
    """No flow collection spans lines, and no flow text ends in a colon (``{a:}``).

    yaml-rs accepts multi-line implicit keys in flow collections, and ``a:`` before a
    flow indicator, which libyaml (and YAML 1.2) refuse.
    """
    if "[" not in text and "{" not in text:
        return True
    for line in text.split("\n"):
        if "[" in line or "{" in line or "]" in line or "}" in line:
            if line.count("[") + line.count("{") != line.count("]") + line.count("}"):
                return False
            if ":," in line or ":]" in line or ":}" in line:
                return False
    return True


def load_fast(text: str) -> Any:
    """Parse with yaml-rs (YAML 1.2 core); raises on any trouble: then use ``load_slow``."""
    return yaml_rs.loads(
        text,
        parse_datetime=False,
        alias_limits=_FAST_ALIAS_LIMITS,
        duplicate_key_policy=yaml_rs.DuplicateKeyPolicy.Error,
    )


def _unprintable(text: str) -> YamlProblem | None:
    match = _UNPRINTABLE.search(text)
    if match is None:
        return None
    line_start = text.rfind("\n", 0, match.start()) + 1
    char = ord(match.group())
    what = "a byte order mark" if char == 0xFEFF else "this character"
    return YamlProblem(
        text.count("\n", 0, match.start()) + 1,
        match.start() - line_start + 1,
        f"{what} (U+{char:04X}) is not allowed here; "
        "write it as an escape in a double-quoted string",
    )


def load_slow(text: str) -> SlowDocument:
    """Parse with positions; every YAML-level problem lands in ``problems``."""
    doc = SlowDocument()
    bad_char = _unprintable(text)
    if bad_char is not None:
        doc.problems.append(bad_char)
        return doc
    composer = Core12Composer(text)
    try:
        root = composer.get_single_node()
    except yaml.MarkedYAMLError as exc:
        doc.problems.append(syntax_problem(exc, text))
        return doc
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml marks all its errors
        doc.problems.append(YamlProblem(1, 1, f"YAML syntax error: {exc}"))
        return doc
    finally:
        composer.dispose()
    try:
        doc.value = None if root is None else Builder(doc).build(root, ())
    except Abort:
        return doc
    if doc.value is None and not doc.problems:
        if root is None or (isinstance(root, ScalarNode) and root.value == ""):
            message = "the file is empty; expected version, owner and webhooks"
        else:
            message = "the top level must be a mapping with version, owner and webhooks, not null"
        doc.problems.append(YamlProblem(1, 1, message))
    return doc

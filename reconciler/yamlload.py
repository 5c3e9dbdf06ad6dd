"""The YAML layer: a fast parse for the happy path, a positioned parse to explain problems.

Both parsers read YAML 1.2 core (only ``true``/``false`` are booleans, ``yes`` is text,
no timestamps), so they agree on every document the fast path accepts:

* fast path: ``yaml_rs`` (Rust). No positions. Used only when a cheap screen of the raw
  text finds none of the constructs on which YAML readers disagree.
* slow path: PyYAML's libyaml composer with our own YAML 1.2 core resolver. It keeps the
  line and column of every node, reports duplicate keys, non-string keys, tags, YAML 1.1
  look-alikes (``on``, ``yes``, ``0755``, ``1:20``) and alias bombs, and is the authority
  for every message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml_rs
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # libyaml composes in C; the pure-Python composer is the same, only slower
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


MAX_FILE_BYTES = 8 * 1024 * 1024  # a config of 10,000 webhooks is about 1 MiB
ALIAS_EVENT_BUDGET = 100_000  # nodes that aliases may replay in one file (yaml-rs "events")
MAX_DEPTH = 32  # a config needs 4 levels; anything deeper is a mistake or an attack

YamlPath = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based line, column

_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP = _TAG + "str", _TAG + "seq", _TAG + "map"
# Private tags for implicitly resolved scalars, so an explicit `!!int` stays recognisable.
_NULL, _BOOL, _INT, _FLOAT = "!core/null", "!core/bool", "!core/int", "!core/float"
_AMBIGUOUS_BOOL, _AMBIGUOUS_NUMBER = "!yaml11/bool", "!yaml11/number"

_CORE_INT = re.compile(r"[-+]?[0-9]+\Z|0o[0-7]+\Z|0x[0-9a-fA-F]+\Z")
_CORE_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z"
    r"|[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z"
)
_YAML11_BOOL = re.compile(r"(?i:y|n|yes|no|on|off)\Z")
# YAML 1.1 numbers that YAML 1.2 reads differently: octal 0755, 0o17, binary, 1_000, 1:20.
_YAML11_NUMBER = re.compile(
    r"[-+]?(?:0[0-9_]+(?:\.[0-9_]*)?|0o[0-7]+|0b[01_]+|[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?"
    r"|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)\Z"
)

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

_FAST_ALIAS_LIMITS = yaml_rs.AliasLimits(
    max_total_replayed_events=ALIAS_EVENT_BUDGET,
    max_replay_stack_depth=MAX_DEPTH,
)


@dataclass(frozen=True)
class YamlProblem:
    """A problem found while reading YAML, before any schema."""

    line: int
    col: int
    message: str
    path: YamlPath = ()


@dataclass
class SlowDocument:
    """A document read by the slow path, with where every node starts."""

    value: Any = None  # None when nothing usable was read (see problems)
    values: dict[YamlPath, Position] = field(default_factory=dict)  # value node starts
    keys: dict[YamlPath, Position] = field(default_factory=dict)  # mapping key starts
    problems: list[YamlProblem] = field(default_factory=list)
    explained: set[YamlPath] = field(default_factory=set)  # paths a YAML problem covers


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
                f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}; "
                "save the file as UTF-8",
            )
        ) from None


def fast_path_allowed(text: str) -> bool:
    """Whether the fast parser is sure to read ``text`` as the slow one would."""
    if "\t" in text or _UNPRINTABLE.search(text) or _SURROGATE_ESCAPE.search(text):
        return False  # (libyaml refuses tabs in more places than yaml-rs)
    padded = "\n" + text  # so that the patterns see the first line start a line
    if _TOKEN_SCREEN.search(padded) or _DEEP_BLOCK.search(padded):
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


class _Core12Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core schema, plus YAML 1.1 look-alikes marked for a message."""


for _tag, _regexp, _first in (
    (_AMBIGUOUS_BOOL, _YAML11_BOOL, "yYnNoO"),
    (_AMBIGUOUS_NUMBER, _YAML11_NUMBER, "-+0123456789"),
    (_BOOL, re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), "tTfF"),
    (_NULL, re.compile(r"(?:~|null|Null|NULL|)\Z"), ["~", "n", "N", ""]),
    (_INT, _CORE_INT, "-+0123456789"),
    (_FLOAT, _CORE_FLOAT, "-+.0123456789"),
):
    _Core12Resolver.add_implicit_resolver(_tag, _regexp, list(_first))


class _Composer(_Parser, _Core12Resolver):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Core12Resolver.__init__(self)


class _Abort(Exception):
    """Stop reading: the problem recorded last makes the rest meaningless."""


def _pos(node: Node) -> Position:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def format_path(path: YamlPath) -> str:
    """``webhooks.orders.notifications[1]``; names with dots are quoted."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part or not part:
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


_KEY = -1  # path element for "the key being read" (no list index is negative)


def _where(path: YamlPath) -> YamlPath:
    return path[:-1] if path[-1:] == (_KEY,) else path


class _Builder:
    """Turns composed nodes into plain values, recording positions and problems."""

    def __init__(self, doc: SlowDocument) -> None:
        self.doc = doc
        self.seen: set[int] = set()
        self.active: set[int] = set()  # collections being built: an alias to one is a cycle
        self.sizes: dict[int, int] = {}
        self.replayed = 0

    def problem(self, node: Node, message: str, path: YamlPath, *, explains: bool = True) -> None:
        """Record a problem; ``explains``: schema errors at ``path`` would only repeat it."""
        path = _where(path)
        text = f"{format_path(path)}: {message}" if path else message
        self.doc.problems.append(YamlProblem(*_pos(node), text, path))
        if explains:
            self.doc.explained.add(path)

    def size(self, node: Node) -> int:
        """Events a replay of ``node`` produces, counted as yaml-rs counts them."""
        key = id(node)
        if key not in self.sizes:
            if isinstance(node, ScalarNode):
                total = 1
            elif isinstance(node, SequenceNode):
                total = 2 + sum(self.size(item) for item in node.value)
            else:
                total = 2 + sum(self.size(k) + self.size(v) for k, v in node.value)
            self.sizes[key] = total
        return self.sizes[key]

    def build(self, node: Node, path: YamlPath, depth: int = 0) -> Any:
        if id(node) in self.active:
            self.problem(node, "an alias refers to its own anchor (a recursive structure)", path)
            raise _Abort
        if id(node) in self.seen:  # an alias: yaml-rs replays it, and so do we
            self.replayed += self.size(node)
            if self.replayed > ALIAS_EVENT_BUDGET:
                self.problem(
                    node,
                    f"aliases expand to more than {ALIAS_EVENT_BUDGET:,} nodes (an alias "
                    "bomb?); anchors and aliases are for small repeats only",
                    path,
                )
                raise _Abort
        self.seen.add(id(node))
        if depth > MAX_DEPTH:
            self.problem(node, f"nested deeper than {MAX_DEPTH} levels", path)
            raise _Abort
        if isinstance(node, ScalarNode):
            if path[-1:] != (_KEY,):
                self.doc.values[path] = _pos(node)
            return self.scalar(node, path)
        self.doc.values[path] = _pos(node)
        if node.tag not in (_SEQ, _MAP):
            self.problem(node, f"YAML tags are not supported ({node.tag})", path)
        self.active.add(id(node))
        if isinstance(node, MappingNode):
            value: Any = self.mapping(node, path, depth)
        else:
            value = [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        self.active.discard(id(node))
        return value

    def mapping(self, node: MappingNode, path: YamlPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                kind = "list" if isinstance(key_node, SequenceNode) else "mapping"
                self.problem(key_node, f"a key must be text, not a {kind}", path, explains=False)
                continue
            key = self.build(key_node, (*path, _KEY), depth + 1)
            if not isinstance(key, str):
                kind = {type(None): "null", bool: "a boolean"}.get(type(key), "a number")
                self.problem(
                    key_node,
                    f"key {key_node.value!r} reads as {kind}; keys must be text (quote it)",
                    path,
                    explains=False,
                )
                continue
            child = (*path, key)
            if key in out:
                first = self.doc.keys[child][0]
                message = f"duplicate key {key!r} (first at line {first})"
                self.problem(key_node, message, child, explains=False)
                continue
            self.doc.keys[child] = _pos(key_node)
            out[key] = self.build(value_node, child, depth + 1)
        return out

    def scalar(self, node: ScalarNode, path: YamlPath) -> Any:
        tag, text = node.tag, node.value
        if path[-1:] == (_KEY,):  # problems with a key are reported under its own name
            path = (*path[:-1], text)
        if tag == _STR or tag == "!":
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() == "true"
        if tag == _INT:
            return int(text, 16) if text.startswith("0x") else int(text)
        if tag == _FLOAT:
            return float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))
        if tag == _AMBIGUOUS_BOOL:
            self.problem(
                node,
                f"{text!r} is a boolean in YAML 1.1 but text in YAML 1.2; write true or "
                f'false, or quote it ("{text}") if you mean the text',
                path,
            )
        elif tag == _AMBIGUOUS_NUMBER:
            self.problem(
                node,
                f"{text!r} is a number in YAML 1.1 (octal, binary, sexagesimal or digit "
                f'groups) but reads differently in YAML 1.2; quote it ("{text}")',
                path,
            )
        else:
            self.problem(node, f"YAML tags are not supported ({tag}); quote the value", path)
        return text


def _mark_position(exc: yaml.MarkedYAMLError) -> Position:
    mark = exc.problem_mark or exc.context_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> YamlProblem:
    line, col = _mark_position(exc)
    what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    if "expected a single document" in what:
        return YamlProblem(
            line, col, "only one YAML document is allowed per file (found a second '---')"
        )
    lines = text.split("\n")
    at = lines[line - 1][col - 1 : col] if 0 < line <= len(lines) else ""
    hint = " (indent with spaces, not tabs)" if at == "\t" else ""
    return YamlProblem(line, col, f"YAML syntax error: {what}{hint}")


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
    composer = _Composer(text)
    try:
        root = composer.get_single_node()
    except yaml.MarkedYAMLError as exc:
        doc.problems.append(_syntax_problem(exc, text))
        return doc
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml marks all its errors
        doc.problems.append(YamlProblem(1, 1, f"YAML syntax error: {exc}"))
        return doc
    finally:
        composer.dispose()
    try:
        doc.value = None if root is None else _Builder(doc).build(root, ())
    except _Abort:
        return doc
    if doc.value is None and not doc.problems:
        if root is None or (isinstance(root, ScalarNode) and root.value == ""):
            message = "the file is empty; expected version, owner and webhooks"
        else:
            message = "the top level must be a mapping with version, owner and webhooks, not null"
        doc.problems.append(YamlProblem(1, 1, message))
    return doc

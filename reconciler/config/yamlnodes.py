"""Positioned YAML reading, the slow path's machinery: PyYAML's libyaml composer with our
own YAML 1.2 core resolver, and a builder that turns nodes into plain values.

The builder keeps the line and column of every key and value, and reports duplicate keys,
non-string keys, tags, YAML 1.1 look-alikes (``on``, ``yes``, ``0755``, ``1:20``) and alias
bombs. ``reconciler.config.yamlload.load_slow`` drives it; it is the authority for every
message.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from contract.urls import redact_url

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


ALIAS_EVENT_BUDGET = 100_000  # nodes that aliases may replay in one file (yaml-rs "events")
MAX_DEPTH = 32  # a config needs 4 levels; anything deeper is a mistake or an attack
# The longest integer read as a number: no field takes one near this long, and Python
# refuses to convert more than 4,300 digits (640 at the least it may be set to).
MAX_INT_CHARS = 640

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


class Core12Composer(_Parser, _Core12Resolver):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Core12Resolver.__init__(self)


class Abort(Exception):
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


class Builder:
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
            raise Abort
        if id(node) in self.seen:  # an alias: yaml-rs replays it, and so do we
            self.replayed += self.size(node)
            if self.replayed > ALIAS_EVENT_BUDGET:
                self.problem(
                    node,
                    f"aliases expand to more than {ALIAS_EVENT_BUDGET:,} nodes (an alias "
                    "bomb?); anchors and aliases are for small repeats only",
                    path,
                )
                raise Abort
        self.seen.add(id(node))
        if depth > MAX_DEPTH:
            self.problem(node, f"nested deeper than {MAX_DEPTH} levels", path)
            raise Abort
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
                self.shadow(value_node, child, depth + 1)
                continue
            self.doc.keys[child] = _pos(key_node)
            out[key] = self.build(value_node, child, depth + 1)
        return out

    def shadow(self, node: Node, path: YamlPath, depth: int) -> None:
        """Read a duplicated key's value for its own problems only (a duplicate key inside
        a duplicated block, say): its values and positions stay out of the document."""
        aside = SlowDocument()
        builder = Builder(aside)
        builder.seen, builder.replayed = self.seen, self.replayed
        with contextlib.suppress(Abort):
            builder.build(node, path, depth)
        self.replayed = builder.replayed
        self.doc.problems.extend(aside.problems)

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
            if len(text) > MAX_INT_CHARS:
                self.problem(node, f"a number of {len(text):,} characters is longer than any "
                             f"field takes ({MAX_INT_CHARS} at most); quote it if it is text",
                             path)
                return text
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


def syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> YamlProblem:
    line, col = _mark_position(exc)
    what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    if "expected a single document" in what:
        return YamlProblem(
            line, col, "only one YAML document is allowed per file (found a second '---')"
        )
    lines = text.split("\n")
    at = lines[line - 1][col - 1 : col] if 0 < line <= len(lines) else ""
    hint = " (indent with spaces, not tabs)" if at == "\t" else ""
    # The file may be anything (a key file, /etc/passwd): a parser's message keeps the
    # grammar's tokens (',' or '<stream end>') but none of the file's own text.
    what = _QUOTED.sub(lambda m: m.group() if _TOKEN.fullmatch(m.group(1)) else "", what)
    if not hint and any(sign in what for sign in _INDENTATION_SIGNS):
        hint = ("; check the indentation: the keys of one mapping start in the same column, "
                "and a nested mapping is indented further")
        config = _CONFIG_KEY.search(text) is not None  # a config the user wrote, not a key
        shown = _shown_line(lines[line - 1]) if config and 0 < line <= len(lines) else None
        if shown is not None:
            hint += f". Line {line}: {shown}"
    return YamlProblem(line, col, f"YAML syntax error: {what}{hint}")


# libyaml's messages when a line is indented more or less than its mapping expects
_INDENTATION_SIGNS = ("mapping values are not allowed", "did not find expected key",
                      "expected <block end>", "could not find expected ':'")
# A line shown back only when it reads as a key of a config the user wrote (the file has a
# top-level key of a config): never a line of a file that is not a config at all (a key,
# a certificate) beyond its position.
_CONFIG_KEY = re.compile(r"^(?:version|owner|webhooks|defaults)[ ]*:", re.MULTILINE)
_KEY_LINE = re.compile(r"[ ]*(?:- )?([A-Za-z0-9_][A-Za-z0-9_.-]{0,62})[ ]*:(?:[ ].*)?\Z")


def _shown_line(line: str) -> str | None:
    """The line as text to quote, with a secret's value and a URL's password hidden."""
    match = _KEY_LINE.match(line.rstrip("\r"))
    if match is None:
        return None
    if match.group(1) == "secret":
        line = line[: line.index(":") + 1] + " (hidden)"
    shown = re.sub(r"[a-z][a-z0-9+.-]*://\S+", lambda m: redact_url(m.group()), line)
    shown = "".join(c if c.isprintable() else "?" for c in shown.rstrip("\r"))
    return repr(shown if len(shown) <= 120 else shown[:117] + "...")


_QUOTED = re.compile(r" ?'([^']*)'")
_TOKEN = re.compile(r"[^\w\s]|<[a-z ]+>")

"""Where ``${env:}`` and ``${file:}`` references may appear: only in a webhook's ``secret``
and ``url``, the fields whose value is sensitive everywhere (plans show them as
fingerprints and redacted forms). In ``url``, a reference is the whole URL, or lies within
its credentials (``https://${env:USER}:${env:PASS}@host/path``): a host or a path read
from a file would be shown in every plan. Anywhere else a reference is refused, with its
field; the messages quote the reference as written, never what it would read.
"""

from __future__ import annotations

from collections.abc import Iterator

from contract.urls import split_url
from reconciler.config.findings import Finding
from reconciler.config.references import REFERENCE, REFERENCE_FIELDS
from reconciler.config.yamlnodes import YamlPath

_HOLE = "\x00"  # stands for a reference while the URL's parts are told apart

NOT_HERE = ("references (${env:...}, ${file:...}) are allowed only in a webhook's secret "
            "and url, whose values are never shown; write this value out "
            "(or $${ for a literal ${)")
URL_PLACES = ("a reference in url must be the whole URL (url: ${env:NAME}) or lie within "
              "its credentials (https://${env:USER}:${env:PASS}@host/path), not in its "
              "scheme, host, port, path or query: put the whole URL in the variable or file")


def has_reference(text: str) -> bool:
    """Whether ``text`` holds an ``${env:}`` or ``${file:}`` reference (not ``$${``)."""
    return "${" in text and any(m.group(1) or m.group(2) for m in REFERENCE.finditer(text))


def whole_reference(text: str) -> bool:
    """Whether ``text`` is exactly one reference."""
    match = REFERENCE.fullmatch(text)
    return match is not None and bool(match.group(1) or match.group(2))


def reference_findings(doc: object) -> list[Finding]:
    """A finding for every reference outside the places it is allowed."""
    return list(_walk(doc, ()))


def _walk(node: object, path: YamlPath) -> Iterator[Finding]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, (*path, index))
    elif isinstance(node, str) and has_reference(node):
        allowed = len(path) == 3 and path[0] == "webhooks" and path[2] in REFERENCE_FIELDS
        if not allowed:
            yield Finding(path, NOT_HERE)
        elif path[2] == "url" and not url_places_ok(node):
            yield Finding(path, URL_PLACES)


def url_places_ok(raw: str) -> bool:
    """A URL's references are the whole of it or lie within its userinfo."""
    if whole_reference(raw):
        return True
    holed = REFERENCE.sub(lambda m: _HOLE if (m.group(1) or m.group(2)) else m.group(), raw)
    parts = split_url(holed)
    if parts is None:
        return False
    scheme, userinfo, host, port, rest = parts
    return _HOLE not in scheme + host + port + rest and _HOLE in userinfo

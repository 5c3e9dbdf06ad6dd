"""Webhook URLs: the rule a URL must meet, and its credentials kept secret.

A URL may carry credentials: userinfo (``https://user:pass@host/...``) or a query string
(``https://host/path?token=abc``, where receivers commonly take their token); both are a
secret like the webhook's. Wherever a URL is shown it is redacted: the userinfo as
``user:***@`` when there is a user and a password, else ``***@`` (a bare user is often a
token), and a non-empty query as ``?***``. Every query is redacted, so a shown ``?***``
always means "a query, hidden", never a query that was literally ``***``; the scheme,
host, port and path stay as written. A fragment (``#...``) is never sent over HTTP, so
the URL rule refuses it; one stored by an older version is redacted as ``#***``.
The split is done by hand, not with ``urllib.parse``, so a redacted URL keeps every
other character as written (IPv6 brackets, port, path, case) and so the common URL is
checked fast.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

from contract.rules import unsafe_character_problem

MAX_URL: Final = 2048
LOOPBACK_HOSTS: Final = "127.0.0.0/8, ::1, localhost"
_PLAIN_USER: Final = re.compile(r"[A-Za-z0-9._~-]{1,64}")
# https://host[:port][/path...][?query] with a plain DNS host, a port below 10000 and no
# fragment: always fine.
_PLAIN_HTTPS: Final = re.compile(
    r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,4})?(?:[/?][!\"$-~]*)?"
)
QUERY_SHOWN: Final = "?***"
FRAGMENT_SHOWN: Final = "#***"
_DEFAULT_PORTS: Final = {"https": "443", "http": "80"}
# Already canonical: lower-case http(s) scheme and host, no userinfo, no port, a path.
_CANONICAL_URL: Final = re.compile(r"https?://[a-z0-9.-]+/")


def split_url(url: str) -> tuple[str, str, str, str, str] | None:
    """``(scheme, "user:pass@" or "", host, port, rest)``, or None if not ``scheme://...``.

    An IPv6 host keeps its brackets; ``rest`` is the path, query and fragment.
    """
    sep = url.find("://")
    if sep <= 0:
        return None
    scheme, after = url[:sep], url[sep + 3:]
    end = len(after)
    for ch in "/?#":
        i = after.find(ch, 0, end)
        if i != -1:
            end = i
    authority, rest = after[:end], after[end:]
    userinfo, at, hostport = authority.rpartition("@")
    close = hostport.find("]") if hostport.startswith("[") else -1
    if close != -1:  # an IPv6 literal keeps its colons
        host, after = hostport[:close + 1], hostport[close + 1:]
        port = after[1:] if after.startswith(":") else after  # "]x" is a bad port, kept
    else:
        host, _, port = hostport.partition(":")
    return scheme, userinfo + at, host, port, rest


def _split_rest(rest: str) -> tuple[str, str | None, str | None]:
    """``(path, query or None, fragment or None)`` of the part after the authority."""
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    return path, (query if question else None), (fragment if hash_ else None)


def has_credentials(url: str | None) -> bool:
    """True when the URL carries credentials: userinfo (``user[:password]@``), a
    non-empty query string, or a fragment (refused now; an older version stored some)."""
    if not url or ("@" not in url and "?" not in url and "#" not in url):
        return False
    parts = split_url(url)
    if parts is None:
        return False
    _, query, fragment = _split_rest(parts[4])
    return parts[1] != "" or bool(query) or fragment is not None


def redact_url(url: str) -> str:
    """The URL with its credentials replaced by ``***``; else as given.

    The user stays visible only beside a non-empty password and only when it is a plain
    name: a lone user, or one with an empty password (``key:@``), is often the token.
    A non-empty query becomes ``?***`` and a fragment ``#***``; the path stays.
    """
    if "@" not in url and "?" not in url and "#" not in url:
        return url
    parts = split_url(url)
    if parts is None:
        return url
    scheme, userinfo, host, port, rest = parts
    path, query, fragment = _split_rest(rest)
    if not userinfo and not query and fragment is None:
        return url
    shown = ""
    if userinfo:
        user, _, password = userinfo[:-1].partition(":")
        shown = (f"{user}:***" if password and _PLAIN_USER.fullmatch(user) else "***") + "@"
    tail = path + (QUERY_SHOWN if query else "?" if query is not None else "")
    if fragment is not None:
        tail += FRAGMENT_SHOWN
    return f"{scheme}://{shown}{host}{':' + port if port else ''}{tail}"


def canonical_url(url: str | None) -> str | None:
    """Scheme and host lower-cased, the default port dropped, an empty path made ``/``.

    The userinfo, path and query keep their case: servers may treat them as
    case-sensitive. Both sides compare URLs in this form, and URL fingerprints are taken
    of it, so ``HTTPS://Hooks.example:443?t=1`` and ``https://hooks.example/?t=1`` are
    one URL.
    """
    if not url:
        return None
    if _CANONICAL_URL.match(url) is not None and not url[-1].isspace():
        return url  # the common case, decided without splitting
    url = url.strip()
    if not url:
        return None
    parts = split_url(url)
    if parts is None:
        return url  # not a URL we understand: compare it as written
    scheme, userinfo, host, port, rest = parts
    scheme = scheme.lower()
    if port == _DEFAULT_PORTS.get(scheme):
        port = ""
    if scheme in _DEFAULT_PORTS and (not rest or rest[0] in "?#"):
        rest = "/" + rest
    return f"{scheme}://{userinfo}{host.lower()}{':' + port if port else ''}{rest}"


def origin(url: str) -> str:
    """``scheme://host[:port]`` only: how to name a server in a message when any other
    part of its URL (userinfo, path, query, fragment) might hold a token."""
    parts = split_url(url)
    if parts is None:
        return "(a URL that cannot be parsed)"
    scheme, _, host, port, _ = parts
    return f"{scheme}://{host}{':' + port if port else ''}"


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (brackets allowed): where plain http may go."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def url_problem(url: str, *, allow_http_loopback: bool = True,
                quote: bool = True) -> str | None:
    """Why ``url`` cannot receive webhooks (a phrase after "url"), or None.

    Never repeats the URL: it may hold a password. ``quote=False`` (a URL read from a
    secret place) names not even its scheme or host.
    """
    if len(url) > MAX_URL:
        return f"is too long ({len(url)} characters; at most {MAX_URL})"
    if _PLAIN_HTTPS.fullmatch(url):  # the common case, without urlsplit's cost
        return None
    if (unsafe := unsafe_character_problem(url)) is not None:
        return unsafe
    if any(c.isspace() or not c.isprintable() for c in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not quote:
            return "must be an absolute https:// URL"
        return (f"must be an absolute https:// URL "
                f"(not {scheme + ':' if scheme else 'a relative URL'})")
    if not parts.hostname:
        return "must be an absolute https:// URL with a host"
    if (problem := _authority_problem(url)) is not None:
        return problem
    if "#" in url:
        return ("must not have a fragment (#...): it is never sent to the receiver; "
                "put a token in the query string or the user part instead")
    if scheme == "http" and not (allow_http_loopback and is_loopback_host(parts.hostname)):
        if allow_http_loopback:
            return (f"must use https; plain http is allowed only to loopback "
                    f"({LOOPBACK_HOSTS})" + (f", not {parts.hostname}" if quote else ""))
        return "must use https"
    return None


def _authority_problem(url: str) -> str | None:
    """What ``urlsplit`` lets through but HTTP clients refuse: a bracketed host that is
    not an IPv6 address, text after the bracket, a port that is not digits."""
    split = split_url(url)
    if split is None:
        return "is not a valid URL"
    _, _, host, port, _ = split
    if port and not port.isdigit():
        return "is not a valid URL (the port is not a number)"
    if host.startswith("[") or host.endswith("]"):
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else None
        try:
            ipaddress.IPv6Address(inner or "")
        except ValueError:
            return "is not a valid URL (a bracketed host must be an IPv6 address)"
    return None

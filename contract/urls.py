"""Webhook URLs: the rule a URL must meet, and its credentials (userinfo) kept secret.

A URL may carry credentials (``https://user:pass@host/...``); they are a secret like
the webhook's. Wherever a URL is shown it is redacted: ``user:***@`` when there is a
user and a password, else ``***@`` (a bare user is often a token). The split is done
by hand, not with ``urllib.parse``, so a redacted URL keeps every other character as
written (IPv6 brackets, port, path, case) and so the common URL is checked fast.
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
# https://host[:port][/path...] with a plain DNS host and a port below 10000: always fine.
_PLAIN_HTTPS: Final = re.compile(
    r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,4})?(?:[/?#][!-~]*)?"
)


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


def has_credentials(url: str | None) -> bool:
    """True when the URL carries userinfo (``user[:password]@``)."""
    if not url or "@" not in url:
        return False
    parts = split_url(url)
    return parts is not None and parts[1] != ""


def redact_url(url: str) -> str:
    """The URL with its credentials replaced by ``***``; else as given.

    The user stays visible only beside a non-empty password and only when it is a plain
    name: a lone user, or one with an empty password (``key:@``), is often the token.
    """
    parts = split_url(url)
    if parts is None or not parts[1]:
        return url
    scheme, userinfo, host, port, rest = parts
    user, _, password = userinfo[:-1].partition(":")
    shown = f"{user}:***" if password and _PLAIN_USER.fullmatch(user) else "***"
    return f"{scheme}://{shown}@{host}{':' + port if port else ''}{rest}"


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

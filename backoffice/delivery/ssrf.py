"""The SSRF guard: a delivery only goes to a public address, checked after resolution.

The backoffice POSTs to URLs its users give it, so without a guard a webhook could
make it reach its own loopback services, the private network or a cloud metadata
endpoint. ``resolve_target`` resolves the host once (IP literals in every spelling a
resolver would accept: ``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``[::ffff:127.0.0.1]``),
refuses when any address is not public, and returns the addresses it checked, so
the sender connects to exactly those (no second lookup an attacker's DNS could
answer differently). ``allow_private`` lifts the guard (local development).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from contract.addresses import IPAddress, block_reason, parse_ip_literal

# A name -> its addresses (text). Injectable, so tests never resolve real names.
Resolver = Callable[[str, int], Sequence[str]]

GUARD_PREFIX: Final = "blocked: private address (SSRF guard)"

class Blocked(Exception):
    """A target the guard refuses; ``str()`` is the one-line reason for the delivery log."""


class Unresolvable(Exception):
    """The host has no address (or the resolver refused to look it up)."""


@dataclass(frozen=True)
class Target:
    """A URL's host and port, with the addresses that were checked (connect to these)."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), TCP addresses only."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"cannot resolve {host}: {exc}") from None
    return [str(info[4][0]) for info in infos]


def resolve_target(url: str, *, allow_private: bool,
                   resolver: Resolver | None = None) -> Target:
    """Resolve and check a delivery URL; Blocked or Unresolvable when it cannot be used.

    Every attempt calls this again: a name that resolved to a public address yesterday
    may resolve to 127.0.0.1 today.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Blocked(f"blocked: only http and https URLs are delivered to, not {scheme!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Blocked("blocked: the URL's port is not valid") from None
    host = parts.hostname or ""
    if not host:
        raise Blocked("blocked: the URL has no host")
    if not host.isascii():
        try:  # the name as DNS, the Host header and TLS know it
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise Unresolvable(f"cannot resolve {host[:100]}: not a valid host name") from None
    literal = parse_ip_literal(host)
    if literal is not None and not allow_private:
        _check(host, literal, resolved=False)
    resolve = resolver or system_resolver
    try:
        found = resolve(host, port) if literal is None or resolver is not None else [str(literal)]
    except OSError as exc:
        raise Unresolvable(f"cannot resolve {host}: {exc.strerror or exc}") from None
    addresses: list[IPAddress] = []
    for text in found:
        address = parse_ip_literal(text)
        if address is None:
            raise Unresolvable(f"cannot resolve {host}: the resolver answered {text[:60]!r}")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Unresolvable(f"cannot resolve {host}: no address")
    if not allow_private:
        for address in addresses:
            _check(host, address, resolved=literal is None)
    return Target(scheme, host, port, tuple(addresses))


def _check(host: str, address: IPAddress, *, resolved: bool) -> None:
    reason = block_reason(address)
    if reason is None:
        return
    if resolved:
        raise Blocked(f"{GUARD_PREFIX}: {host} resolves to {address}, {reason}")
    if host.strip("[]").removesuffix(".") == str(address):
        raise Blocked(f"{GUARD_PREFIX}: {address} is {reason}")
    raise Blocked(f"{GUARD_PREFIX}: {host} is {address}, {reason}")

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

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A name -> its addresses (text). Injectable, so tests never resolve real names.
Resolver = Callable[[str, int], Sequence[str]]

GUARD_PREFIX: Final = "blocked: private address (SSRF guard)"

_METADATA: Final = frozenset({
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
})
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK: Final = ipaddress.ip_network("0.0.0.0/8")
_NAT64: Final = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE: Final = ipaddress.ip_network("::/96")
_SIX_TO_FOUR: Final = ipaddress.ip_network("2002::/16")
# What a legacy IPv4 literal may be made of: decimal, octal (0...) and hex (0x...) parts.
_LEGACY_V4: Final = re.compile(r"[0-9a-fA-FxX.]+")


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


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host names literally, in any spelling resolvers accept; else None."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    text = text.removesuffix(".") if not text.endswith("..") else text
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if "%" in text:  # an IPv6 zone: fe80::1%eth0
        try:
            return ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return None
    if _LEGACY_V4.fullmatch(text):
        try:
            # inet_aton takes exactly the legacy forms getaddrinfo would resolve.
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip in _CGNAT:
        return "carrier-grade NAT (100.64.0.0/10)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not a public address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """IPv6 forms that carry an IPv4 address (and may reach it)."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if any(ip in net for net in _NAT64):
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return "IPv4-compatible", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def block_reason(ip: IPAddress) -> str | None:
    """Why a delivery may not go to ``ip`` (a few words), or None when it is public."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_reason(ip)
    if ip.scope_id:
        return "an IPv6 address with a zone"
    embedded = _embedded_v4(ip)
    if embedded is not None:
        kind, v4 = embedded
        return f"an {kind} IPv6 address (of {v4})"
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.sixtofour is not None and _v4_reason(ip.sixtofour) is not None:
        return f"a 6to4 address of a non-public IPv4 address ({ip.sixtofour})"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local or ip.is_site_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not a public address"
    return None


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

"""Which IP addresses a delivery may never reach: the rules of the SSRF guard.

A webhook URL is the backoffice's users' input, so without these rules a webhook could
make the backoffice reach its own loopback services, the private network or a cloud
metadata endpoint. ``parse_ip_literal`` reads a host written as an address in every
spelling a resolver accepts (``2130706433``, ``0177.0.0.1``, ``0x7f.1``,
``[::ffff:127.0.0.1]``); ``block_reason`` says why an address is not public.
The backoffice applies them after resolving each delivery's host, and (unless it allows
private targets) to a URL whose host is such a literal when the webhook is created or
changed: ``literal_target_problem``, which online ``validate`` applies too. Host names
are not resolved then (the answer may change before a delivery, which checks again).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Final

from contract.urls import split_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


def literal_target(url: str) -> str | None:
    """``"127.0.0.1 is loopback"`` when ``url``'s host is a literal address that is not
    public (loopback, private, link-local, unspecified, metadata...), in any spelling;
    else None. A host name is never resolved here. Names only the host, never the URL
    (it may hold a password)."""
    parts = split_url(url)
    if parts is None:
        return None
    host = parts[2]
    address = parse_ip_literal(host)
    if address is None:
        return None
    reason = block_reason(address)
    if reason is None:
        return None
    try:  # written in the standard way: no need to say which address it is
        ipaddress.ip_address(host.strip("[]").removesuffix("."))
        return f"{host} is {reason}"
    except ValueError:
        return f"{host[:60]} is {address}, {reason}"


def literal_target_problem(url: str) -> str | None:
    """Why a backoffice that refuses private targets refuses ``url`` (a phrase after
    "url"), or None: ``literal_target`` said as a rule."""
    what = literal_target(url)
    if what is None:
        return None
    return (f"must point at a public address: {what} (this backoffice refuses private "
            "targets: SSRF guard)")

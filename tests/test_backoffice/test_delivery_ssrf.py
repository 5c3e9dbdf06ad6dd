"""The SSRF guard: every private spelling refused, after resolution, on every attempt,
and the connection made to the address that was checked. No real name is resolved:
IP literals, localhost (the hosts file), and injected resolvers only."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backoffice.delivery.sender import Sender
from backoffice.delivery.ssrf import (
    GUARD_PREFIX,
    Blocked,
    Unresolvable,
    block_reason,
    parse_ip_literal,
    resolve_target,
)
from tests.support.backoffice import loopback_resolver
from tests.support.receivers import Receiver

BLOCKED_URLS = {
    "http://127.0.0.1/": "loopback",
    "http://127.8.9.10:8080/x": "loopback",
    "http://10.1.2.3/": "private",
    "http://172.16.0.1/": "private",
    "http://192.168.1.1/": "private",
    "http://169.254.169.254/latest/meta-data/": "cloud metadata",
    "http://169.254.10.10/": "link-local",
    "http://100.64.0.1/": "carrier-grade NAT",
    "http://100.127.255.254/": "carrier-grade NAT",
    "http://224.0.0.1/": "multicast",
    "http://239.255.255.250/": "multicast",
    "http://240.0.0.1/": "reserved",
    "http://255.255.255.255/": "private",  # the limited broadcast
    "http://0.0.0.0/": "unspecified",
    "http://0.1.2.3/": "unspecified",
    "http://192.0.2.10/": "private",  # TEST-NET-1
    "http://198.18.0.1/": "private",  # benchmarking
    "http://[::1]/": "loopback",
    "http://[::]/": "unspecified",
    "http://[fe80::1]/": "link-local",
    "http://[fec0::1]/": "link-local",
    "http://[fc00::1]/": "private",
    "http://[fd12:3456::1]/": "private",
    "http://[ff02::1]/": "multicast",
    "http://[fd00:ec2::254]/": "cloud metadata",
    "http://[::ffff:127.0.0.1]/": "IPv4-mapped",
    "http://[::ffff:7f00:1]/": "IPv4-mapped",
    "http://[::ffff:169.254.169.254]/": "IPv4-mapped",
    "http://[::ffff:8.8.8.8]/": "IPv4-mapped",
    "http://[::127.0.0.1]/": "IPv4-compatible",
    "http://[::10.0.0.1]/": "IPv4-compatible",
    "http://[64:ff9b::7f00:1]/": "NAT64",
    "http://[64:ff9b::a9fe:a9fe]/": "NAT64",
    "http://[64:ff9b:1::a00:1]/": "NAT64",
    "http://[2002:7f00:1::]/": "6to4",
    "http://[2001:db8::1]/": "private",  # documentation
    "http://2130706433/": "loopback",  # decimal
    "http://0177.0.0.1/": "loopback",  # octal
    "http://0x7f.0.0.1/": "loopback",  # hex
    "http://0x7f000001/": "loopback",
    "http://017700000001/": "loopback",
    "http://127.1/": "loopback",  # short forms
    "http://10.1/": "private",
    "http://0xa9.0xfe.0xa9.0xfe/": "cloud metadata",
    "http://2852039166/": "cloud metadata",  # 169.254.169.254 in decimal
    "http://127.0.0.1./": "loopback",  # a trailing dot
    "https://localhost:8443/hook": "loopback",  # the hosts file, no DNS
    "http://LOCALHOST/": "loopback",
}


@pytest.mark.parametrize("url", sorted(BLOCKED_URLS))
def test_private_targets_are_blocked(url: str) -> None:
    with pytest.raises(Blocked) as caught:
        resolve_target(url, allow_private=False)
    message = str(caught.value)
    assert message.startswith(GUARD_PREFIX)
    assert BLOCKED_URLS[url] in message


def test_public_literals_pass_and_nothing_connects() -> None:
    for url, address in [("https://8.8.8.8/hook", "8.8.8.8"),
                         ("http://[2606:4700::1]/", "2606:4700::1"),
                         ("https://134744072/", "8.8.8.8")]:
        target = resolve_target(url, allow_private=False)
        assert target.addresses == (ipaddress.ip_address(address),)
    assert block_reason(ipaddress.ip_address("1.1.1.1")) is None


def test_names_are_checked_after_resolution() -> None:
    answers = {"hooks.shop.test": ["203.0.113.9"], "evil.test": ["93.184.216.34", "10.0.0.5"],
               "meta.test": ["169.254.169.254"], "good.test": ["93.184.216.34"]}

    def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    with pytest.raises(Blocked, match=r"hooks\.shop\.test resolves to 203\.0\.113\.9"):
        resolve_target("https://hooks.shop.test/", allow_private=False, resolver=resolver)
    # one private answer among public ones is enough to refuse (DNS rebinding tricks)
    with pytest.raises(Blocked, match=r"10\.0\.0\.5, private"):
        resolve_target("https://evil.test/", allow_private=False, resolver=resolver)
    with pytest.raises(Blocked, match="cloud metadata"):
        resolve_target("https://meta.test/", allow_private=False, resolver=resolver)
    target = resolve_target("https://good.test/x", allow_private=False, resolver=resolver)
    assert (target.host, target.port, [str(a) for a in target.addresses]) == (
        "good.test", 443, ["93.184.216.34"])


def test_resolver_failures_and_odd_urls() -> None:
    with pytest.raises(Unresolvable, match="tests resolve loopback only"):
        resolve_target("https://api.shop.example/", allow_private=True, resolver=loopback_resolver)

    def weird(host: str, port: int) -> list[str]:
        return ["not-an-address"]

    with pytest.raises(Unresolvable, match="answered"):
        resolve_target("https://x.test/", allow_private=True, resolver=weird)

    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(-2, "Name or service not known")

    with pytest.raises(Unresolvable, match=r"cannot resolve x\.test"):
        resolve_target("https://x.test/", allow_private=True, resolver=failing)
    with pytest.raises(Blocked, match="only http and https"):
        resolve_target("file:///etc/passwd", allow_private=True)
    with pytest.raises(Blocked, match="no host"):
        resolve_target("http:///x", allow_private=True)


def test_allow_private_lifts_the_guard() -> None:
    target = resolve_target("http://0177.0.0.1:8080/", allow_private=True)
    assert target.addresses == (ipaddress.ip_address("127.0.0.1"),)
    assert parse_ip_literal("[::1]") == ipaddress.ip_address("::1")
    assert parse_ip_literal("cafe.be") is None and parse_ip_literal("1.2.3.4.5") is None


def test_the_sender_blocks_before_connecting_on_every_attempt() -> None:
    receiver = Receiver()
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    try:
        sender = Sender(timeout_s=2, resolver=resolver)
        for _ in range(3):
            outcome = sender.send(receiver.url(host="hooks.shop.test"), {}, b"{}",
                                  acknowledge=lambda s, b: (True, "ok"))
            assert not outcome.delivered and outcome.status is None
            assert outcome.error is not None and outcome.error.startswith(GUARD_PREFIX)
        assert calls == ["hooks.shop.test"] * 3  # resolved and checked every time
        assert receiver.received == []  # never connected
        blocked = sender.send("http://2130706433:1/", {}, b"", acknowledge=lambda s, b: (True, ""))
        assert blocked.error is not None and "2130706433 is 127.0.0.1, loopback" in blocked.error
    finally:
        receiver.close()


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host() -> None:
    receiver = Receiver(script=["204"])

    def resolver(host: str, port: int) -> list[str]:
        assert host == "hooks.shop.test"
        return ["127.0.0.1"]

    try:
        sender = Sender(timeout_s=2, allow_private_targets=True, resolver=resolver)
        outcome = sender.send(receiver.url("/in?x=1", host="hooks.shop.test"),
                              {"Content-Type": "application/json"}, b"{}",
                              acknowledge=lambda s, b: (s == 204, f"HTTP {s}"))
        assert outcome.delivered, outcome
        (got,) = receiver.received
        assert got.headers["host"] == f"hooks.shop.test:{receiver.port}"
        assert got.path == "/in?x=1"
    finally:
        receiver.close()


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, Path]]:
    cert, key = _certificate(tmp_path, "hooks.shop.test")
    receiver = Receiver(script=["204"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    yield receiver, cert
    receiver.close()


def test_https_is_pinned_yet_verified_against_the_name(tls_receiver: tuple[Receiver, Path]) -> None:
    receiver, cert = tls_receiver
    trust = ssl.create_default_context(cafile=str(cert))

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    sender = Sender(timeout_s=3, allow_private_targets=True, resolver=resolver, ssl_context=trust)
    url = f"https://hooks.shop.test:{receiver.port}/hook"
    outcome = sender.send(url, {}, b"{}", acknowledge=lambda s, b: (s == 204, f"HTTP {s}"))
    assert outcome.delivered, outcome
    assert receiver.received[0].headers["host"] == f"hooks.shop.test:{receiver.port}"
    # the same address under another name: the certificate does not match, refused
    wrong = sender.send(f"https://other.shop.test:{receiver.port}/hook", {}, b"{}",
                        acknowledge=lambda s, b: (True, "ok"))
    assert not wrong.delivered
    assert wrong.error is not None and wrong.error.startswith("TLS certificate not accepted")
    sender.close()

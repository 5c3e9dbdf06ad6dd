"""Shared samples for the backoffice tests (a unique module name: tests/ has no packages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SIBS_SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # base64 of 32 bytes
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's test secret
CRED_10001 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c1001"
CRED_10002 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c1002"
CRED_20001 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c2001"


class Clock:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 4, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Tokens:
    manage: str
    read: str
    other_manage: str  # merchant "acme"


def url_webhook(name: str = "orders-backend", **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": "url", "url": "https://api.shop.example/hooks/sibs",
            "application": "merchant", "notifications": ["mbway", "authorised-payment"],
            **fields}


def email_webhook(name: str = "lisbon-mail", **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": "email", "email": "lisbon@shop.example",
            "application": "store:LIS-01", "notifications": ["mbway"], **fields}


def loopback_resolver(host: str, port: int) -> list[str]:
    """The tests' resolver: loopback literals and localhost only; no name ever reaches DNS."""
    from backoffice.delivery.ssrf import Unresolvable, parse_ip_literal

    literal = parse_ip_literal(host)
    if literal is not None and literal.is_loopback:
        return [str(literal)]
    if host.lower() == "localhost":
        return ["127.0.0.1"]
    raise Unresolvable(f"cannot resolve {host}: tests resolve loopback only")

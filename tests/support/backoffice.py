"""Samples for the backoffice tests: a hand-moved clock, tokens, webhook bodies, a resolver."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backoffice.facade import Backoffice


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


def delivering_backoffice(path: Path) -> Backoffice:
    """A backoffice (for the HTTP API in-process) that may deliver to loopback receivers."""
    return Backoffice.open(f"sqlite:///{path}", allow_private_targets=True)


def stored_bytes(office: Backoffice, folder: Path, name: str = "backoffice.db") -> bytes:
    """What the database holds at rest: the SQLite files' bytes (``name*`` in ``folder``),
    or on PostgreSQL every row of every table as the server returns it."""
    if office.db.dialect == "sqlite":
        return b"".join(p.read_bytes() for p in sorted(folder.glob(f"{name}*")))
    from sqlalchemy import select

    from backoffice.db.tables import metadata

    with office.db.read() as conn:
        return b"".join(repr(tuple(row)).encode() for table in metadata.sorted_tables
                        for row in conn.execute(select(table)))

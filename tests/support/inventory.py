"""A merchant's webhooks as found in the wild: managed by two owners, some unmanaged.

Shared by the list/show/import tests (core and CLI). It holds a known secret and a URL
with a password, which no output may ever contain.
"""

from __future__ import annotations

from typing import Any

from reconciler.providers import Provider
from tests.support.secrets import SIBS_SECRET, WHSEC

OWNER = "payments-team"
SECRET = SIBS_SECRET
PASSWORD = "S3cr3t-Passw0rd"
CRED_URL = f"https://hook-user:{PASSWORD}@Hooks.Shop.example/refunds"
CRED_URL_REDACTED = "https://hook-user:***@Hooks.Shop.example/refunds"
CRED_URL_VARIABLE = "REFUNDS_URL"
TRICKY_DESCRIPTION = 'on: ${not a ref} "quoted" #hash\nsecond line\ttab'


def managed(owner: str, **extra: str) -> dict[str, str]:
    return {"managed-by": "webhooks-reconciler", "owner": owner, **extra}


BODIES: list[dict[str, Any]] = [
    {"name": "orders-backend", "type": "url", "url": "https://api.shop.example/hooks/sibs",
     "application": "merchant", "notifications": ["mbway", "authorised-payment"],
     "secret": SECRET, "support_email": "oncall@shop.example", "description": "Order service",
     "labels": managed(OWNER)},
    {"name": "refunds", "type": "url", "url": CRED_URL, "format": "standard-webhooks",
     "application": "store:LIS-01", "notifications": ["xpay"], "secret": WHSEC,
     "labels": managed(OWNER, **{"prevent-destroy": "true"})},
    {"name": "lisbon-mail", "type": "email", "email": "lisbon@shop.example",
     "application": "store:LIS-01", "notifications": ["qr-code", "mbway"], "enabled": False,
     "labels": managed(OWNER)},
    {"name": "porto-kiosk", "type": "url", "url": "https://kiosk.shop.example/hook",
     "application": "terminal:20001", "notifications": ["key-enter-token"],
     "labels": managed("kiosk-team")},
    {"name": "legacy", "type": "url", "url": "https://legacy.shop.example/notify",
     "application": "store:POR-01", "notifications": ["mbway", "mb-reference"],
     "description": TRICKY_DESCRIPTION, "labels": {"team": "legacy"}},
    {"name": "10001", "type": "email", "email": "yes@shop.example",
     "application": "terminal:10001", "notifications": ["mbway"]},
]
ALL = sorted(b["name"] for b in BODIES)
OWNED = ["lisbon-mail", "orders-backend", "refunds"]
UNMANAGED = ["10001", "legacy"]


async def seed(provider: Provider) -> None:
    """Create the inventory (in an order that is not name order)."""
    for i, body in enumerate(BODIES):
        await provider.create(body, idempotency_key=f"seed-{i}")

"""The demo merchant seeded into an empty database (the notification types are the
contract's: ``contract.catalogue``)."""

from __future__ import annotations

from typing import Final

from contract.catalogue import NOTIFICATION_TYPES

__all__ = ["DEMO_CREDENTIALS", "DEMO_MERCHANT_ID", "DEMO_MERCHANT_NAME", "DEMO_STORES",
           "DEMO_TERMINALS", "NOTIFICATION_TYPES"]

DEMO_MERCHANT_ID: Final = "demo"
DEMO_MERCHANT_NAME: Final = "Demo Shop"
DEMO_STORES: Final[tuple[tuple[str, str], ...]] = (
    ("LIS-01", "Lisboa Chiado"),
    ("POR-01", "Porto Baixa"),
)
DEMO_TERMINALS: Final[tuple[tuple[str, str], ...]] = (  # terminal id, store code
    ("10001", "LIS-01"),
    ("10002", "LIS-01"),
    ("20001", "POR-01"),
)
DEMO_CREDENTIALS: Final[tuple[tuple[str, str], ...]] = (  # client id, terminal id
    ("0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c1001", "10001"),
    ("0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c1002", "10002"),
    ("0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c2001", "20001"),
)

"""The notification catalogue of the SIBS Backoffice, in the order its menu lists them.

Adding a notification type is one ``NotificationType`` entry in ``NOTIFICATIONS``: the
API's types, ``validate --offline``, ``emit`` and the payloads read it; the committed
JSON Schema that editors read lists the codes too, and a test holds it to this list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True)
class PayloadVariant:
    """One documented shape of a notification of a type (a purchase, a refund...).

    ``payment_type`` is the gateway's ``paymentType`` (PURS, AUTH...); ``extra`` holds
    the method-specific fields this variant adds to the generic structure.
    """

    name: str
    description: str
    payment_type: str
    payment_status: str = "Success"
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class NotificationType:
    """A notification type a webhook can subscribe to."""

    code: str  # what configs and the API write: ``mbway``
    label: str  # what the Backoffice shows: ``MB WAY``
    payment_method: str  # the notification's ``paymentMethod`` by default
    variants: tuple[PayloadVariant, ...] = ()  # documented payload shapes, first the default


NOTIFICATIONS: Final[tuple[NotificationType, ...]] = (
    NotificationType("mbway", "MB WAY", "MBWAY"),
    NotificationType("mb-reference", "MB Reference", "REFERENCE"),
    NotificationType("key-enter-token", "Key Enter / Token", "TOKEN"),
    NotificationType("qr-code", "QR Code / QR Code Express", "QRCODE"),
    NotificationType("authorised-payment", "Authorised Payment", "CARD"),
    NotificationType("xpay", "XPAY", "XPAY"),
)

BY_CODE: Final[Mapping[str, NotificationType]] = MappingProxyType(
    {n.code: n for n in NOTIFICATIONS}
)
# Code -> label, in catalogue order: what ``GET /v1/catalog`` and messages list.
NOTIFICATION_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {n.code: n.label for n in NOTIFICATIONS}
)
CODES: Final[tuple[str, ...]] = tuple(BY_CODE)

PAYMENT_STATUSES: Final = ("Success", "Pending", "InProcessing", "Declined", "Error", "Timeout")

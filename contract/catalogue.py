"""The notification catalogue of the SIBS Backoffice, in the order its menu lists them,
with the documented shapes of each type's notifications (the scenarios ``emit`` and
``test`` send).

Adding a notification type is one ``NotificationType`` entry in ``NOTIFICATIONS``: the
API's types, ``validate --offline``, ``emit`` and the payloads read it; the committed
JSON Schema that editors read lists the codes too, and a test holds it to this list.

Each type's ``variants`` are the shapes the gateway's documentation gives for it (its
"Examples" of webhook notifications), the default first: a variant's name is the
scenario's name (``webhooks emit --scenario NAME``). ``contract.payloads`` builds a
notification from a variant; this module only declares them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

SUCCESS: Final = ("000", "Success")  # returnStatus: the operation went through


# --- the method-specific blocks a variant adds to the generic structure --------------------

@dataclass(frozen=True)
class Token:
    """``token``: the MB WAY alias (``MobilePhone``) or a stored card (``Card``)."""

    token_type: Literal["MobilePhone", "Card"]


@dataclass(frozen=True)
class Reference:
    """``paymentReference``: a MULTIBANCO entity and reference, ``UNPAID`` or ``PAID``."""

    status: Literal["UNPAID", "PAID"]


@dataclass(frozen=True)
class Mandate:
    """``mbwayMandate``: an MB WAY authorised payment; ``action`` (CRTN creation, CNCL
    cancellation) and its status (SCCS succeeded, RJCT rejected), or neither for a
    purchase under the mandate."""

    action: Literal["CRTN", "CNCL"] | None = None
    action_status: Literal["SCCS", "RJCT"] | None = None


@dataclass(frozen=True)
class StoredCredential:
    """``merchantInitiatedTransaction``: the agreement a stored card is used under:
    UCOF (unscheduled credential on file) or RCRR (recurring, with a schedule)."""

    kind: Literal["UCOF", "RCRR"]


@dataclass(frozen=True)
class QrProduct:
    """``financialOperation``: the product a static QR code sells."""


Block = Token | Reference | Mandate | StoredCredential | QrProduct


@dataclass(frozen=True)
class PayloadVariant:
    """One documented shape of a type's notifications; its name is the scenario's.

    ``payment_type`` is the gateway's ``paymentType`` (PURS, AUTH...); ``blocks`` are the
    method-specific parts it adds to the generic structure; ``follows`` names the
    variant whose notification it continues (the same reference, mandate or stored card,
    found among the merchant's recent notifications); ``amount`` is fixed for the
    variants that move no money (0.0), None for the default; ``documented`` names the
    example in the gateway's documentation it follows ("" when there is none).
    """

    name: str
    description: str
    payment_method: str
    payment_type: str
    payment_status: str = "Success"
    return_status: tuple[str, str] = SUCCESS  # (statusCode, statusMsg)
    blocks: tuple[Block, ...] = ()
    follows: str | None = None
    amount: float | None = None
    documented: str = ""


@dataclass(frozen=True)
class NotificationType:
    """A notification type a webhook can subscribe to."""

    code: str  # what configs and the API write: ``mbway``
    label: str  # what the Backoffice shows: ``MB WAY``
    payment_method: str  # the default variant's ``paymentMethod``
    variants: tuple[PayloadVariant, ...] = ()  # documented payload shapes, first the default


_PHONE = Token("MobilePhone")
_CARD = Token("Card")
_DECLINED = ("01.106.0004", "Declined")  # the documented MB WAY decline

NOTIFICATIONS: Final[tuple[NotificationType, ...]] = (
    NotificationType("mbway", "MB WAY", "MBWAY", (
        PayloadVariant("mbway-purchase", "MB WAY purchase with the customer's phone number",
                       "MBWAY", "PURS", blocks=(_PHONE,),
                       documented="MB WAY Purchase with Alias"),
        PayloadVariant("mbway-purchase-declined", "MB WAY purchase the customer declined",
                       "MBWAY", "PURS", "Declined", _DECLINED, (_PHONE,),
                       documented="MB WAY Purchase with Alias - Declined"),
    )),
    NotificationType("mb-reference", "MB Reference", "REFERENCE", (
        PayloadVariant("multibanco-reference-paid",
                       "MULTIBANCO reference paid (the latest generated one, if any)",
                       "REFERENCE", "PREF", blocks=(Reference("PAID"),),
                       follows="multibanco-reference-generation",
                       documented="MULTIBANCO Reference \"Paid\""),
        PayloadVariant("multibanco-reference-generation",
                       "MULTIBANCO reference generated, waiting to be paid",
                       "REFERENCE", "PREF", "Pending", blocks=(Reference("UNPAID"),),
                       documented="MULTIBANCO Reference Generation"),
    )),
    NotificationType("key-enter-token", "Key Enter / Token", "TOKEN", (
        PayloadVariant("token-purchase", "Purchase with a stored card token",
                       "TOKEN", "PURS", blocks=(_CARD,), follows="token-generation",
                       documented="Token Purchase"),
        PayloadVariant("token-generation", "A card stored as a token (no money moves)",
                       "CARD", "AUTH", blocks=(_CARD,), amount=0.0,
                       documented="Token Generation"),
        PayloadVariant("card-purchase", "Card purchase, the card details keyed in",
                       "CARD", "PURS", documented="Card Purchase"),
        PayloadVariant("mit-ucof", "Merchant-initiated charge of a stored card, unscheduled",
                       "CARD", "MITR", blocks=(_CARD, StoredCredential("UCOF")),
                       follows="token-generation",
                       documented="Merchant Initiated Transaction (MIT) with Type UCOF"),
        PayloadVariant("mit-recurring", "Merchant-initiated recurring charge of a stored card",
                       "CARD", "MITR", blocks=(_CARD, StoredCredential("RCRR")),
                       follows="token-generation",
                       documented="Merchant Initiated Transaction (MIT) with Type Recurring"),
        PayloadVariant("cit-ucof", "Cardholder purchase storing the card for unscheduled use",
                       "CARD", "PURS", blocks=(_CARD, StoredCredential("UCOF")),
                       documented="Cardholder Initiated Transaction (CIT) with Type UCOF"),
        PayloadVariant("cit-recurring", "Cardholder purchase setting up recurring charges",
                       "CARD", "PURS", blocks=(_CARD, StoredCredential("RCRR")),
                       documented="Cardholder Initiated Transaction (CIT) with Type Recurring"),
    )),
    NotificationType("qr-code", "QR Code / QR Code Express", "QRCODE", (
        PayloadVariant("qrcode-static-purchase", "Purchase by scanning a static QR code",
                       "QRCODE", "PURS", blocks=(_PHONE, QrProduct()),
                       documented="Static QR Code Purchase"),
    )),
    NotificationType("authorised-payment", "Authorised Payment", "MBWAY", (
        PayloadVariant("mbway-authorised-purchase",
                       "Purchase under an MB WAY authorised payment (the latest created)",
                       "MBWAY", "PURS", blocks=(_PHONE, Mandate()),
                       follows="mbway-authorised-creation",
                       documented="MB WAY Authorised Payment Purchase after Creation"),
        PayloadVariant("mbway-authorised-creation",
                       "MB WAY authorised payment created (no money moves)",
                       "MBWAY", "AUTH", blocks=(_PHONE, Mandate("CRTN", "SCCS")), amount=0.0,
                       documented="MB WAY Authorised Payment Creation"),
        PayloadVariant("mbway-authorised-cancel", "MB WAY authorised payment cancelled",
                       "MBWAY", "CAUT", blocks=(_PHONE, Mandate("CNCL", "SCCS")),
                       follows="mbway-authorised-creation", amount=0.0,
                       documented="Cancel MB WAY Authorised Payment"),
        PayloadVariant("mbway-authorised-cancel-declined",
                       "Cancellation of an MB WAY authorised payment declined",
                       "MBWAY", "CAUT", "Declined", ("E0507", "Declined"),
                       (_PHONE, Mandate("CNCL", "RJCT")), follows="mbway-authorised-creation",
                       amount=0.0, documented="Cancel MB WAY Authorised Payment - Decline"),
    )),
    NotificationType("xpay", "XPAY", "XPAY", (
        PayloadVariant("xpay-purchase",
                       "XPAY wallet purchase (the documentation has no XPAY example: the "
                       "generic structure)", "XPAY", "PURS"),
    )),
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


@dataclass(frozen=True)
class Scenario:
    """A variant and the notification type it belongs to."""

    type: NotificationType
    variant: PayloadVariant

    @property
    def name(self) -> str:
        return self.variant.name


SCENARIOS: Final[Mapping[str, Scenario]] = MappingProxyType(
    {v.name: Scenario(n, v) for n in NOTIFICATIONS for v in n.variants}
)
SCENARIO_NAMES: Final[tuple[str, ...]] = tuple(SCENARIOS)
MAX_SCENARIO_NAME: Final = 64


def default_scenario(code: str) -> Scenario:
    """The scenario a type sends when none is named: its first variant."""
    entry = BY_CODE[code]
    return Scenario(entry, entry.variants[0])


def scenario_problem(name: str, code: str | None = None) -> str | None:
    """Why ``name`` is not a scenario (of type ``code``, when given), with a "did you
    mean" where one is close; None when it is."""
    shown = repr(name[:MAX_SCENARIO_NAME])
    found = SCENARIOS.get(name)
    if found is None:
        close = difflib.get_close_matches(name[:MAX_SCENARIO_NAME], SCENARIO_NAMES, n=1,
                                          cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (f"{shown} is not a scenario{hint} (the scenarios: "
                f"{', '.join(SCENARIO_NAMES)})")
    if code is not None and found.type.code != code:
        mine = [v.name for v in BY_CODE[code].variants] if code in BY_CODE else []
        return (f"scenario {shown} belongs to notification type {found.type.code!r}, not "
                f"{code!r}" + (f"; the scenarios of {code!r}: {', '.join(mine)}" if mine else ""))
    return None

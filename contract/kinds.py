"""What a notification is, told from its content as the gateway's receivers tell it.

The gateway's notifications carry no ``type``: a receiver derives the kind from
``paymentMethod`` and ``paymentType`` (an MB WAY purchase is MBWAY + PURS). ``kind``
spells it for machines (``mbway.purchase``: the Standard Webhooks envelope's ``type``),
``label`` for people (``MB WAY purchase``), and ``facts`` gives the readable summary
``webhooks listen``, ``emit`` and the notification e-mails show: method and payment
type, status, amount, the MULTIBANCO entity/reference, the mandate, and the token
masked. Nothing here trusts the notification: every value is bounded and checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from contract.catalogue import NOTIFICATION_TYPES

# paymentMethod -> (kind, label)
METHODS: Final[Mapping[str, tuple[str, str]]] = {
    "MBWAY": ("mbway", "MB WAY"),
    "REFERENCE": ("multibanco", "MULTIBANCO"),
    "CARD": ("card", "Card"),
    "TOKEN": ("token", "Token"),
    "QRCODE": ("qrcode", "QR code"),
    "XPAY": ("xpay", "XPAY"),
}
# paymentType -> (kind, label)
PAYMENT_TYPES: Final[Mapping[str, tuple[str, str]]] = {
    "PURS": ("purchase", "purchase"),
    "AUTH": ("authorisation", "authorisation"),
    "CAPT": ("capture", "capture"),
    "REFD": ("refund", "refund"),
    "CAUT": ("cancellation", "cancellation"),
    "RVSL": ("reversal", "reversal"),
    "PREF": ("reference", "payment reference"),
    "MITR": ("merchant-initiated", "merchant-initiated transaction"),
}
_WORD: Final = re.compile(r"[^a-z0-9-]+")
_SHOWN: Final = 40  # characters of any one value shown


def _text(value: object) -> str | None:
    return value[:_SHOWN] if isinstance(value, str) and value else None


def _part(value: object, known: Mapping[str, tuple[str, str]], index: int) -> str:
    text = _text(value)
    if text is None:
        return "unknown"
    if text in known:
        return known[text][index]
    return _WORD.sub("-", text.lower()).strip("-")[:32] or "unknown"


def kind(notification: Mapping[str, Any]) -> str:
    """``mbway.purchase``: paymentMethod and paymentType, for machines."""
    method = _part(notification.get("paymentMethod"), METHODS, 0)
    return f"{method}.{_part(notification.get('paymentType'), PAYMENT_TYPES, 0)}"


def label(notification: Mapping[str, Any]) -> str:
    """``MB WAY purchase``, for people. A notification stored before paymentType existed
    (it had a ``type``: the catalogue code) is named after its catalogue type."""
    if notification.get("paymentType") is None and _text(notification.get("type")):
        code = str(notification["type"])
        return f"{NOTIFICATION_TYPES.get(code, code[:_SHOWN])} notification"
    method = _text(notification.get("paymentMethod")) or "?"
    ptype = _text(notification.get("paymentType")) or "?"
    first = METHODS[method][1] if method in METHODS else method
    second = PAYMENT_TYPES[ptype][1] if ptype in PAYMENT_TYPES else ptype
    return f"{first} {second}"


def mask(value: object) -> str:
    """A token shown without giving it away: ``351#9*****78`` for an MB WAY alias (the
    country code and the first digit kept), the first and last two characters of any
    other; the masked part never says how long it was."""
    text = str(value) if isinstance(value, str | int) else ""
    if "#" in text:
        country, _, number = text.partition("#")
        if len(number) >= 5:
            return f"{country[:4]}#{number[0]}*****{number[-2:]}"
        return f"{country[:4]}#*****"
    if len(text) >= 8:
        return f"{text[:2]}*****{text[-2:]}"
    return "*****"


def masked(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The notification with its token values and MB WAY alias masked (for printing)."""
    out = dict(notification)
    token = out.get("token")
    if isinstance(token, Mapping) and "value" in token:
        out["token"] = {**token, "value": mask(token["value"])}
    mandate = out.get("mbwayMandate")
    if isinstance(mandate, Mapping) and "aliasMBWAY" in mandate:
        out["mbwayMandate"] = {**mandate, "aliasMBWAY": mask(mandate["aliasMBWAY"])}
    return out


def money(amount: object) -> str:
    """``10.00 EUR`` (a value as text kept as sent), or "" when there is none."""
    if not isinstance(amount, Mapping):
        return ""
    value = amount.get("value")
    if isinstance(value, bool):
        shown = str(value)
    elif isinstance(value, int | float):
        shown = f"{value:.2f}"
    else:
        shown = _text(value) or ""
    return f"{shown} {_text(amount.get('currency')) or ''}".strip()


def facts(notification: Mapping[str, Any]) -> list[str]:
    """The summary, one short fact each: ``MB WAY purchase (MBWAY/PURS)``, the status,
    the amount, then the ``details`` the method adds."""
    method = _text(notification.get("paymentMethod")) or "?"
    ptype = _text(notification.get("paymentType")) or "?"
    head = [f"{label(notification)} ({method}/{ptype})",
            _text(notification.get("paymentStatus")) or "?", money(notification.get("amount"))]
    return [f for f in head if f] + details(notification)


def details(notification: Mapping[str, Any]) -> list[str]:
    """What the method-specific blocks say: the MULTIBANCO entity/reference, the
    mandate, the stored-credential agreement, the token (masked)."""
    out = []
    reference = notification.get("paymentReference")
    if isinstance(reference, Mapping):
        ref = f"reference {_text(reference.get('entity')) or '?'}/" \
              f"{_text(reference.get('reference')) or '?'}"
        extra = [x for x in (_text(reference.get("status")),
                             f"expires {_text(reference.get('expireDate'))}"
                             if _text(reference.get("expireDate")) else None) if x]
        out.append(ref + (f" ({', '.join(extra)})" if extra else ""))
    mandate = notification.get("mbwayMandate")
    if isinstance(mandate, Mapping):
        action = "/".join(x for x in (_text(mandate.get("mandateAction")),
                                      _text(mandate.get("mandateActionStatus"))) if x)
        out.append(f"mandate {_text(mandate.get('mandateIdentification')) or '?'}"
                   + (f" {action}" if action else ""))
    agreement = notification.get("merchantInitiatedTransaction")
    if isinstance(agreement, Mapping):
        out.append(f"stored credential {_text(agreement.get('type')) or '?'}")
    token = notification.get("token")
    if isinstance(token, Mapping):
        shown = f"token {_text(token.get('tokenType')) or '?'} {mask(token.get('value'))}"
        pan = _text(token.get("maskedPAN"))
        out.append(shown + (f" ({pan})" if pan else ""))
    return out

"""Notifications as the gateway sends them, built from the catalogue's variants.

The one place a notification's JSON is made (the backoffice's emit and test-fire call
``build``). The generic structure comes first, in the documented order: returnStatus,
paymentStatus, paymentMethod, transactionID, transactionDateTime, amount, merchant
(transactionId, terminalId, merchantName, inApp), paymentType; then the variant's
method-specific blocks (token, paymentReference, mbwayMandate,
merchantInitiatedTransaction, financialOperation); then internalTransactionId and
notificationID. There is no ``type`` field: the gateway sends none, and receivers tell
the kind from paymentMethod and paymentType (``contract.kinds``).

A test notification carries one field more, ``"test": true`` at the top level: the
documentation tells receivers to ignore fields they do not know, so a receiver written
from it handles a test as it would the real thing, and one that looks can tell.

A variant that ``follows`` another (a reference paid, a purchase under a mandate, a
charge of a stored card) continues the notification given as ``previous``: the same
reference, mandate or token (and, for a reference, the same transaction). Without one
it makes them up, as the first notification would have.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from contract.catalogue import (
    SUCCESS,
    Block,
    Mandate,
    PayloadVariant,
    QrProduct,
    Reference,
    StoredCredential,
    Token,
)
from contract.times import iso_millis

DEFAULT_AMOUNT: Final[Mapping[str, Any]] = {"value": 10.0, "currency": "EUR"}
MANDATE_LIMIT: Final = 100.0  # the authorised payment's monthly limit in the samples
REFERENCE_DAYS: Final = 3  # a generated reference expires after this
_ALNUM: Final = string.ascii_letters + string.digits


def _digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def _carried(previous: Mapping[str, Any] | None, key: str) -> dict[str, Any] | None:
    """A block of the previous notification, when it has one of the right shape."""
    value = previous.get(key) if previous is not None else None
    return dict(value) if isinstance(value, Mapping) else None


def _phone() -> dict[str, Any]:
    return {"tokenType": "MobilePhone", "value": "351#9" + _digits(8)}


def _card() -> dict[str, Any]:
    return {"tokenType": "Card", "value": "".join(secrets.choice(_ALNUM) for _ in range(22)),
            "maskedPAN": "523641******" + _digits(4)}


def _token(block: Token, previous: Mapping[str, Any] | None) -> dict[str, Any]:
    kept = _carried(previous, "token")
    if kept is not None and kept.get("tokenType") == block.token_type:
        return kept
    return _phone() if block.token_type == "MobilePhone" else _card()


def _reference(block: Reference, amount: Mapping[str, Any], when: datetime,
               previous: Mapping[str, Any] | None) -> dict[str, Any]:
    kept = _carried(previous, "paymentReference")
    if kept is not None and {"reference", "entity"} <= set(kept):
        return {**kept, "status": block.status}
    return {
        "reference": _digits(9), "entity": "2" + _digits(4), "amount": dict(amount),
        "status": block.status,
        "expireDate": iso_millis(when + timedelta(days=REFERENCE_DAYS)),
    }


def _mandate(block: Mandate, token: Mapping[str, Any] | None, when: datetime,
             previous: Mapping[str, Any] | None) -> dict[str, Any]:
    kept = _carried(previous, "mbwayMandate") or {}
    alias = token.get("value") if token is not None else None
    whole: dict[str, Any] = {
        "mandateIdentification": kept.get("mandateIdentification") or _digits(20),
        "mandateType": kept.get("mandateType") or "SBSC",
        "aliasMBWAY": kept.get("aliasMBWAY") or alias or "351#9" + _digits(8),
        "clientName": kept.get("clientName") or "Demo Customer",
        "mandateExpirationDate": kept.get("mandateExpirationDate")
        or (when + timedelta(days=365)).date().isoformat(),
        "mandateAmountLimit": kept.get("mandateAmountLimit")
        or {"value": MANDATE_LIMIT, "currency": "EUR"},
    }
    if block.action is None:  # a purchase under the mandate names it, no more
        return {k: whole[k] for k in ("mandateIdentification", "mandateType", "aliasMBWAY")}
    return {**whole, "mandateAction": block.action, "mandateActionStatus": block.action_status}


def _stored(block: StoredCredential, when: datetime) -> dict[str, Any]:
    if block.kind == "UCOF":
        return {"type": "UCOF", "amountQualifier": "ESTIMATED"}
    return {"type": "RCRR", "amountQualifier": "ACTUAL", "schedule": {
        "initialDate": when.date().isoformat(),
        "finalDate": (when + timedelta(days=365)).date().isoformat(),
        "interval": "MONTHLY"}}


def _product(amount: Mapping[str, Any]) -> dict[str, Any]:
    return {"product": {"staticQRCodeId": _digits(12), "productName": "Demo product",
                        "productQuantity": 1, "productAmount": amount["value"],
                        "expeditionAmount": 0.0}}


def _blocks(blocks: tuple[Block, ...], amount: Mapping[str, Any], when: datetime,
            previous: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block in blocks:
        if isinstance(block, Token):
            out["token"] = _token(block, previous)
        elif isinstance(block, Reference):
            out["paymentReference"] = _reference(block, amount, when, previous)
        elif isinstance(block, Mandate):
            out["mbwayMandate"] = _mandate(block, out.get("token"), when, previous)
        elif isinstance(block, StoredCredential):
            out["merchantInitiatedTransaction"] = _stored(block, when)
        elif isinstance(block, QrProduct):
            out["financialOperation"] = _product(amount)
    return out


def build(variant: PayloadVariant, *, terminal: str, merchant_name: str, when: datetime,
          amount: Mapping[str, Any] | None = None, status: str | None = None,
          method: str | None = None, test: bool = False,
          previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A notification of ``variant`` at ``when``; fresh ids every time.

    ``amount``, ``status`` and ``method`` override the variant's (a status other than
    the variant's keeps returnStatus at 000/Success: the documentation's "the operation
    went through", the payment status saying how it ended); ``previous`` is the
    notification this one continues (see the module's docstring).
    """
    follow = previous if variant.follows is not None else None
    money = dict(DEFAULT_AMOUNT)
    if variant.amount is not None:
        money["value"] = variant.amount
    # A reference is paid in the transaction that generated it, and in full.
    before = _carried(follow, "paymentReference")
    same = before is not None and any(isinstance(b, Reference) for b in variant.blocks)
    if same and before is not None and isinstance(before.get("amount"), Mapping):
        money = dict(before["amount"])
    if amount is not None:
        money = dict(amount)
    merchant_before = (_carried(follow, "merchant") if same else None) or {}
    transaction = follow.get("transactionID") if same and follow is not None else None
    outcome = variant.payment_status if status is None else status
    code, message = variant.return_status if outcome == variant.payment_status else SUCCESS
    payload: dict[str, Any] = {
        "returnStatus": {"statusMsg": message, "statusCode": code},
        "paymentStatus": outcome,
        "paymentMethod": variant.payment_method if method is None else method,
        "transactionID": transaction if isinstance(transaction, str)
        else "s2" + "".join(secrets.choice(_ALNUM) for _ in range(18)),
        "transactionDateTime": iso_millis(when),
        "amount": money,
        "merchant": {
            "transactionId": str(merchant_before.get("transactionId") or uuid.uuid4().hex),
            "terminalId": terminal,
            "merchantName": merchant_name,
            "inApp": "false",
        },
        "paymentType": variant.payment_type,
        **_blocks(variant.blocks, money, when, follow),
        "internalTransactionId": "S" + _digits(14) + "S",
        "notificationID": str(uuid.uuid4()),
    }
    if test:
        payload["test"] = True
    return payload


def continues(payload: Mapping[str, Any], variant: PayloadVariant) -> bool:
    """Whether a stored notification is one of ``variant`` (what a follower looks for)."""
    if payload.get("paymentMethod") != variant.payment_method \
            or payload.get("paymentType") != variant.payment_type \
            or payload.get("paymentStatus") != variant.payment_status:
        return False
    for block in variant.blocks:
        if isinstance(block, Mandate):
            mandate = payload.get("mbwayMandate")
            if not isinstance(mandate, Mapping) or mandate.get("mandateAction") != block.action:
                return False
        if isinstance(block, Reference):
            reference = payload.get("paymentReference")
            if not isinstance(reference, Mapping) or reference.get("status") != block.status:
                return False
        if isinstance(block, Token):
            token = payload.get("token")
            if not isinstance(token, Mapping) or token.get("tokenType") != block.token_type:
                return False
    return True

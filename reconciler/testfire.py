"""Test-firing a URL webhook: find it by name, fire, and the verdict on the TestResult.

The backoffice does the firing (it holds the secret) and answers with a TestResult
(see the delivery contract). ``outcome`` is the one-line verdict that ``test`` and
``apply --test`` report; ``reconciler.render.testfire`` shows the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.details import find
from reconciler.errors import InvalidRequest
from reconciler.providers import Provider
from reconciler.render.terminal import printable
from reconciler.render.testfire import Fired, ms


class EmailWebhookNotTestable(InvalidRequest):
    """Only URL webhooks have a test (the SIBS Backoffice offers none for e-mail ones)."""


async def fire(provider: Provider, name: str, notification: str | None = None,
               scenario: str | None = None) -> Fired:
    """Test-fire the webhook called ``name`` (NotFound with close names when there is none)
    with a scenario, or a type's default one."""
    webhook = find(await provider.fetch(), name, provider.description)
    if webhook.type != "url":
        raise EmailWebhookNotTestable(
            f"{printable(name)!r} is an e-mail webhook: only URL webhooks can be test-fired "
            "(the backoffice e-mails its notifications; there is no receiver to answer)"
        )
    return Fired(webhook, await provider.test(webhook.id, notification, scenario))


def reason(result: Mapping[str, Any]) -> str:
    """Why a TestResult does not count as delivered (one line), or "acknowledged"."""
    response = result.get("response") or {}
    text = result.get("reason") or response.get("error")
    if not text and response.get("status") is not None:
        text = f"the receiver answered HTTP {response['status']}"
    return printable(str(text or "no reason given"))


# What a delivered test-fire says about the receiver's secret, by delivery format (a test
# holds this to the registry). Only sibs makes the receiver show it decrypted the message.
PROOF: dict[str, tuple[bool, str]] = {
    "sibs": (True, "the receiver decrypted it and echoed its notificationID: it holds "
                   "the secret"),
    "standard-webhooks": (False, "any 2xx counts: this does not show that the receiver "
                                 "holds the secret or checks the signature"),
}


def proves_secret(delivery_format: str | None) -> bool:
    """Whether a delivered test-fire in this format shows the receiver holds the secret."""
    return PROOF.get(delivery_format or "", (False, ""))[0]


def proof(delivery_format: str | None) -> str:
    """What a delivered test-fire in this format shows, in one phrase."""
    return PROOF.get(delivery_format or "", (False, "any acknowledgement counts"))[1]


def outcome(result: Mapping[str, Any]) -> str:
    """``delivered (200 in 12 ms)`` or ``NOT delivered: <reason>``."""
    response = result.get("response") or {}
    if result.get("delivered") is True:
        return f"delivered ({response.get('status')} in {ms(response.get('duration_ms'))})"
    return f"NOT delivered: {reason(result)}"

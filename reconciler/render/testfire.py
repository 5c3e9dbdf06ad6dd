"""A test-fire as people read it: the notification sent, the request, the response.

The backoffice does the firing (it holds the secret) and answers with a TestResult
(see the delivery contract): the notification it sent, decrypted; the request's
headers; the receiver's answer; whether that counts as delivered, and why not. This
module turns that into text. It never sees a secret: the TestResult holds none, and a
URL's credentials (a password, a query string) are redacted before anything is shown.
``reconciler.testfire`` fires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract.urls import redact_url
from reconciler.model import RemoteWebhook
from reconciler.render.terminal import printable

REQUEST_BODY_SHOWN = 120  # characters of the (encrypted or signed) body shown
RESPONSE_LINES_SHOWN = 20


@dataclass(frozen=True)
class Fired:
    """One test-fire: the webhook and the backoffice's TestResult."""

    webhook: RemoteWebhook
    result: dict[str, Any]

    @property
    def delivered(self) -> bool:
        return self.result.get("delivered") is True

    @property
    def data(self) -> dict[str, Any]:
        return {"webhook": self.webhook.name, "webhook_id": self.webhook.id, **self.result}


def ms(value: object) -> str:
    """``12 ms``, or ``? ms`` when the backoffice gave no duration."""
    return f"{value:.0f} ms" if isinstance(value, int | float) else "? ms"


def render_text(fired: Fired) -> str:
    """The notification sent (pretty JSON), the request, the response; no verdict line."""
    result = fired.result
    request = result.get("request") or {}
    response = result.get("response") or {}
    url = redact_url(str(request.get("url") or fired.webhook.url or "?"))
    head = f"Test-fired {fired.webhook.name} ({fired.webhook.format}) -> {url}"
    if result.get("delivery_id"):
        head += f"  [{result['delivery_id']}]"
    sent = "Notification sent"
    if result.get("scenario"):
        sent += f" (scenario {result['scenario']}, type {result.get('notification_type')})"
    lines = [printable(head), "", printable(sent + ":")]
    notification = result.get("notification")
    pretty = json.dumps(notification, indent=2, ensure_ascii=False, sort_keys=False)
    lines += [f"  {printable(line)}" for line in pretty.splitlines()]

    lines += ["", "Request:", printable(f"  {request.get('method') or 'POST'} {url}")]
    lines += _headers(request.get("headers"))
    body = str(request.get("body_excerpt") or "")
    if body:
        shown = body[:REQUEST_BODY_SHOWN] + ("..." if len(body) > REQUEST_BODY_SHOWN else "")
        lines.append(printable(f"  body: {shown}"))

    lines += ["", "Response:"]
    status = response.get("status")
    duration = ms(response.get("duration_ms"))
    if status is None:
        error = response.get("error") or "no response"
        lines.append(printable(f"  no response after {duration}: {error}"))
    else:
        lines.append(f"  HTTP {status} in {duration}")
        lines += _headers(response.get("headers"))
        lines += _excerpt(str(response.get("body_excerpt") or ""))
        if response.get("error"):
            lines.append(printable(f"  error: {response['error']}"))
    return "\n".join(lines) + "\n"


def _headers(headers: object) -> list[str]:
    if not isinstance(headers, Mapping):
        return []
    return [printable(f"  {key}: {value}") for key, value in headers.items()]


def _excerpt(body: str) -> list[str]:
    if not body:
        return ["  (empty body)"]
    lines = body.splitlines()
    shown = [printable(f"  | {line}") for line in lines[:RESPONSE_LINES_SHOWN]]
    if len(lines) > RESPONSE_LINES_SHOWN:
        shown.append(f"  | ... ({len(lines) - RESPONSE_LINES_SHOWN} more lines)")
    return shown

"""A local webhook receiver (``webhooks listen``): decrypt or verify, print, acknowledge.

The developer's counterpart of ``stripe listen``: point a webhook at it, emit or
test-fire, and read each notification as the receiver would see it. It uses the very
functions the backoffice sends with (``backoffice.delivery.formats``), so a delivery
it accepts is one a real receiver holding the same secret accepts.

- ``sibs``: the body is decrypted (AES-256-GCM); the acknowledgement is HTTP 200 with
  ``{"statusCode": "200", "statusMsg": "Success", "notificationID": <its id>}``.
- ``standard-webhooks``: the signature and timestamp are verified; the answer is 204.

A delivery that does not decrypt or verify gets 400 and one line on the error stream.
The secret is never printed: not in lines, not in errors (only its fingerprint, which
``webhooks show`` prints too, so the two can be compared).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from backoffice.crypto import secret_problem
from backoffice.delivery.formats import FormatError, decode_sibs, verify_standard
from reconciler.errors import ReconcilerError
from reconciler.listing import printable

Format = Literal["sibs", "standard-webhooks"]
FORMATS: tuple[Format, ...] = ("sibs", "standard-webhooks")
Printer = Callable[[str], None]
MAX_BODY = 1 << 20  # a notification is a few hundred bytes; refuse anything absurd
WHSEC_PREFIX = "whsec_"


def guess_format(secret: str) -> Format:
    """The format a secret is spelled for: ``whsec_...`` is Standard Webhooks, else sibs."""
    return "standard-webhooks" if secret.startswith(WHSEC_PREFIX) else "sibs"


def check_secret(fmt: Format, secret: str) -> None:
    """Refuse a secret that cannot fit ``fmt`` (the message never quotes it)."""
    problem = secret_problem(fmt, secret)
    if problem is not None:
        raise ReconcilerError(f"the listen secret does not fit --format {fmt}: {problem}")


def header_line(notification: Mapping[str, Any], when: datetime) -> str:
    """One line per notification: time, type, status, amount, terminal, id, test mark."""
    amount = notification.get("amount")
    money = ""
    if isinstance(amount, Mapping):
        value = amount.get("value")
        shown = f"{value:.2f}" if isinstance(value, int | float) else str(value)
        money = f"{shown} {amount.get('currency') or ''}".strip()
    merchant = notification.get("merchant")
    terminal = merchant.get("terminalId") if isinstance(merchant, Mapping) else None
    parts = [
        when.strftime("%H:%M:%S"),
        str(notification.get("type") or "?"),
        str(notification.get("paymentStatus") or "?"),
        money,
        f"terminal {terminal}" if terminal is not None else "",
        f"id {notification.get('notificationID')}",
        "(test)" if notification.get("test") is True else "",
    ]
    return printable("  ".join(p for p in parts if p))


def create_receiver(
    secret: str,
    *,
    fmt: Format,
    path: str = "/hooks",
    out: Printer,
    err: Printer,
    clock: Callable[[], datetime] = datetime.now,
) -> Starlette:
    """The receiver as an ASGI app: POST deliveries to ``path``; GET it to check it is up."""
    check_secret(fmt, secret)

    def rejected(request: Request, why: str) -> Response:
        client = request.client.host if request.client else "?"
        # The formats never quote the secret; this only makes sure of it.
        text = printable(why.replace(secret, "(secret)")) or "invalid delivery"
        err(f"{clock().strftime('%H:%M:%S')}  rejected a delivery from {client}: {text}")
        if fmt == "sibs":
            return JSONResponse({"statusCode": "400", "statusMsg": text}, status_code=400)
        return PlainTextResponse(text, status_code=400)

    async def receive(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return rejected(request, f"body of {declared} bytes is too large")
        body = await request.body()
        if len(body) > MAX_BODY:
            return rejected(request, f"body of {len(body)} bytes is too large")
        try:
            if fmt == "sibs":
                notification = decode_sibs(request.headers, body, secret)
            else:
                notification = verify_standard(request.headers, body, secret)
        except FormatError as exc:
            action = "cannot decrypt" if fmt == "sibs" else "signature not verified"
            return rejected(request, f"{action}: {exc}")
        out(header_line(notification, clock()))
        pretty = json.dumps(notification, indent=2, ensure_ascii=False)
        out("\n".join(printable(line) for line in pretty.splitlines()))
        if fmt == "standard-webhooks":
            return Response(status_code=204)
        return JSONResponse({"statusCode": "200", "statusMsg": "Success",
                             "notificationID": notification.get("notificationID")})

    async def alive(_: Request) -> Response:
        return PlainTextResponse(f"webhooks listen: POST {fmt} deliveries here\n")

    return Starlette(routes=[Route(path, receive, methods=["POST"]),
                             Route(path, alive, methods=["GET"])])

"""A local webhook receiver (``webhooks listen``): decrypt or verify, print, acknowledge.

The developer's counterpart of ``stripe listen``: point a webhook at it, emit or
test-fire, and read each notification as the receiver would see it. It uses the very
formats the backoffice sends with (``contract.formats``), so a delivery it accepts is
one a real receiver holding the same secret accepts: each format decodes (``sibs``
decrypts, ``standard-webhooks`` verifies the signature and timestamp) and says how to
acknowledge.

Each notification is one summary line (what it is, from paymentMethod and paymentType;
status; amount; the MULTIBANCO entity/reference, the mandate, the token masked), then its
JSON with the token values and MB WAY alias masked: a payment token is never printed
whole.

During a rotation of the webhook's secret it holds two: the new one and the previous
one (still valid for the grace period), and accepts a delivery that opens with either:
sibs deliveries come encrypted with one of them, Standard Webhooks ones signed with both.

A delivery that does not decrypt or verify gets 400 and one line on the error stream.
The secret is never printed: not in lines, not in errors, not even as a fingerprint
(published fingerprints are keyed per merchant, a key a local receiver does not hold).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from contract import formats, kinds
from contract.formats import DeliveryFormat, FormatError
from reconciler.errors import ReconcilerError
from reconciler.render.terminal import printable

Printer = Callable[[str], None]
MAX_BODY = 1 << 20  # a notification is a few hundred bytes; refuse anything absurd


def check_secret(fmt: str, secret: str, what: str = "the listen secret") -> DeliveryFormat:
    """The format called ``fmt``, refusing a secret that cannot fit it (never quoted)."""
    delivery = formats.get(fmt)
    problem = delivery.secret_problem(secret)
    if problem is not None:
        raise ReconcilerError(f"{what} does not fit --format {fmt}: {problem}")
    return delivery


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, read a chunk at a time; None as soon as it passes ``limit`` bytes
    (the rest is never read, so memory holds at most ``limit`` plus one chunk)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def header_line(notification: Mapping[str, Any], when: datetime) -> str:
    """One line per notification: time, what it is (method and paymentType), status,
    amount, the method's details (reference, mandate, token masked), terminal, id, and
    the test mark."""
    merchant = notification.get("merchant")
    terminal = merchant.get("terminalId") if isinstance(merchant, Mapping) else None
    parts = [
        when.strftime("%H:%M:%S"),
        *kinds.facts(notification),
        f"terminal {terminal}" if terminal is not None else "",
        f"id {notification.get('notificationID')}",
        "(test)" if notification.get("test") is True else "",
    ]
    return printable("  ".join(p for p in parts if p))


def decode_with_any(delivery: DeliveryFormat, headers: Mapping[str, str], body: bytes,
                    secrets: Sequence[str]) -> tuple[dict[str, Any], int]:
    """The notification, decoded with the first of ``secrets`` that opens it, and that
    secret's place in the list; the first secret's FormatError when none does."""
    first: FormatError | None = None
    for index, secret in enumerate(secrets):
        try:
            return delivery.decode(headers, body, secret), index
        except FormatError as exc:
            first = first or exc
    assert first is not None
    raise first


def create_receiver(
    secret: str,
    *,
    fmt: str,
    path: str = "/hooks",
    out: Printer,
    err: Printer,
    clock: Callable[[], datetime] = datetime.now,
    previous: str | None = None,
) -> Starlette:
    """The receiver as an ASGI app: POST deliveries to ``path``; GET it to check it is up.

    ``previous``: the secret ``secret`` replaced, during a rotation's grace: a delivery
    that opens with it is accepted too (and marked so).
    """
    delivery = check_secret(fmt, secret)
    keys = [secret]
    if previous is not None and previous != secret:
        check_secret(fmt, previous, "the previous secret")
        keys.append(previous)

    def rejected(request: Request, why: str, status: int = 400) -> Response:
        client = request.client.host if request.client else "?"
        # The formats never quote the secret; this only makes sure of it.
        for key in keys:
            why = why.replace(key, "(secret)")
        text = printable(why) or "invalid delivery"
        err(f"{clock().strftime('%H:%M:%S')}  rejected a delivery from {client}: {text}")
        # 413: the rest of the body is never read, so the connection cannot be reused.
        headers = {"Connection": "close"} if status == 413 else None
        return JSONResponse({"statusCode": str(status), "statusMsg": text},
                            status_code=status, headers=headers)

    async def receive(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return rejected(request, f"body of {declared} bytes is too large "
                            f"(at most {MAX_BODY})", 413)
        try:
            body = await read_body(request, MAX_BODY)
        except ClientDisconnect:
            return rejected(request, "the client went away before its body was complete")
        if body is None:
            return rejected(request, f"body is too large (over {MAX_BODY} bytes)", 413)
        try:
            notification, used = decode_with_any(delivery, request.headers, body, keys)
        except FormatError as exc:
            tried = " (tried both secrets)" if len(keys) > 1 else ""
            return rejected(request, f"not a valid {fmt} delivery{tried}: {exc}")
        line = header_line(notification, clock())
        out(line + ("  (previous secret)" if used else ""))
        pretty = json.dumps(kinds.masked(notification), indent=2, ensure_ascii=False)
        out("\n".join(printable(line) for line in pretty.splitlines()))
        status, answer = delivery.reply(notification)
        if answer is None:
            return Response(status_code=status)
        return JSONResponse(answer, status_code=status)

    async def alive(_: Request) -> Response:
        return PlainTextResponse(f"webhooks listen: POST {fmt} deliveries here\n")

    return Starlette(routes=[Route(path, receive, methods=["POST"]),
                             Route(path, alive, methods=["GET"])])

"""RFC 9457 problem responses for every error, the request size cap and the access log."""

from __future__ import annotations

import http
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backoffice.errors import BackofficeError, TooManyRequests, Unauthorized, Unavailable

PROBLEM_JSON = "application/problem+json"
access_log = logging.getLogger("backoffice.access")
error_log = logging.getLogger("backoffice.error")


def problem(status: int, detail: str, *, title: str | None = None, type_uri: str = "about:blank",
            headers: dict[str, str] | None = None,
            errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title or http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    found = []
    for error in exc.errors():
        message = str(error.get("msg", "is not valid"))
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error") or "cannot be read"
            loc = error.get("loc", ())
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            found.append({"field": "body", "message": f"not valid JSON: {reason}{where}"})
            continue
        # Never echo the input: it may be a secret or megabytes of junk.
        found.append({"field": _field(error.get("loc", ())), "message": message})
    return found


# Told of every refusal the handlers answer: (request, status, title). The audit log
# records those of an audited operation by a known caller (backoffice.http.audit_api).
RefusalObserver = Callable[[Request, int, str], Awaitable[None]]


async def _ignore(_: Request, __: int, ___: str) -> None:
    return None


def _on_backoffice_error(on_refusal: RefusalObserver) -> Callable[..., Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BackofficeError)
        headers: dict[str, str] = {}
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = 'Bearer realm="webhooks"'
        if isinstance(exc, Unavailable | TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after)
        await on_refusal(request, exc.status, exc.title)
        return problem(exc.status, exc.detail, title=exc.title, type_uri=exc.type_uri,
                       headers=headers or None)
    return handle


def _on_validation_error(on_refusal: RefusalObserver) -> Callable[..., Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        await on_refusal(request, 422, "Invalid request")
        return problem(422, shown + more, title="Invalid request",
                       type_uri="urn:webhooks-backoffice:problem:invalid", errors=errors)
    return handle


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else http.HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such resource: see /openapi.json for the API"
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        # FastAPI's answer to bad UTF-8, runaway nesting or a number too long to read.
        detail = "the body could not be parsed: send UTF-8 JSON of reasonable depth"
    return problem(exc.status_code, detail, headers=dict(exc.headers or {}) or None)


async def _on_crash(_: Request, exc: Exception) -> JSONResponse:
    error_log.error("internal error (%s)", type(exc).__name__, exc_info=exc)
    return problem(500, "an internal error occurred; it was logged", title="Internal error")


def install_problem_handlers(app: FastAPI, *, on_refusal: RefusalObserver = _ignore) -> None:
    app.add_exception_handler(BackofficeError, _on_backoffice_error(on_refusal))
    app.add_exception_handler(RequestValidationError, _on_validation_error(on_refusal))
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_crash)


# The rest of a body over the cap is never read: the connection cannot serve another request.
CLOSE: Final = {"Connection": "close"}


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` mid-body; an HTTPException so FastAPI lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes", headers=CLOSE)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` (413), by Content-Length and by bytes received.

    The body is counted as it arrives, chunk by chunk (chunked bodies too): the bytes a
    request can make the server hold are bounded by the cap, whatever the client sends.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await problem(400, "Content-Length is not a number")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                too_large = BodyTooLarge(self.max_bytes)
                await problem(413, str(too_large.detail), headers=CLOSE)(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await problem(413, str(exc.detail), headers=CLOSE)(scope, receive, send)


def _printable(path: str) -> str:
    # A path is client input: escape what could forge or break a log line.
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in path)
    return cleaned if len(cleaned) <= 200 else cleaned[:200] + "..."


RequestObserver = Callable[[Scope, int, float], None]  # (scope, status, seconds)


def log_request(scope: Scope, status: int, seconds: float) -> None:
    """One access-log line: method, path (no query: it may carry a token), status, time."""
    access_log.info("%s %s %d %.1fms", scope["method"], _printable(scope["path"]), status,
                    seconds * 1000)


class RequestTimingMiddleware:
    """Times every request and tells each observer its status and duration (the access
    log, the metrics). Outermost, so it sees every status, and after the inner app ran,
    so the route template is known."""

    def __init__(self, app: ASGIApp, observers: Sequence[RequestObserver]) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            took = time.perf_counter() - start
            for observe in self.observers:
                observe(scope, status, took)

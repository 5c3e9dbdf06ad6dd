"""One HTTP POST to a webhook, through the SSRF guard, bounded in time and size.

The sender talks to an httpx transport directly (no client): no cookie jar shared
between receivers, no redirects, no proxies from the environment, and no kept-alive
connection that another host's request could reuse past its TLS check. The host is
resolved and checked on every attempt, and the connection goes to the checked
address with the URL's name as Host header and TLS server name (certificate checked
against the name).
"""

from __future__ import annotations

import base64
import errno
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from backoffice.delivery.ssrf import Blocked, Resolver, Unresolvable, resolve_target

MAX_EXCERPT: Final = 1024  # bytes of the response kept for the delivery log
MAX_READ: Final = 64 * 1024  # an acknowledgement is tiny; read no further
USER_AGENT: Final = "webhooks-backoffice/1"
_KEPT_HEADERS: Final = ("content-type", "content-length", "location", "retry-after")

Acknowledge = Callable[[int, bytes], tuple[bool, str]]


@dataclass(frozen=True)
class Outcome:
    """What one attempt did: delivered or not and why, and what came back."""

    delivered: bool
    reason: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body_excerpt: str = ""
    duration_ms: float = 0.0
    error: str | None = None


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _transport_error(exc: BaseException, timeout_s: float) -> str:
    """One line for a failed exchange, from the exception chain."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {_seconds(timeout_s)}"
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {seen.verify_message or seen.reason}"
        if isinstance(seen, ssl.SSLError):
            return f"TLS error: {seen.reason or seen}"
        if isinstance(seen, ConnectionRefusedError) or (
                isinstance(seen, OSError) and seen.errno == errno.ECONNREFUSED):
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx.ConnectError):
        text = str(exc) or type(exc).__name__
        if "refused" in text.lower():
            return "connection refused"
        return f"cannot connect: {text.splitlines()[0][:200]}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {str(exc).splitlines()[0][:200] if str(exc) else 'bad response'}"
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"


class Sender:
    """POSTs deliveries; thread-safe (one transport, no shared per-request state)."""

    def __init__(self, *, timeout_s: float = 15.0, allow_private_targets: bool = False,
                 resolver: Resolver | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.timeout_s = timeout_s
        self.allow_private_targets = allow_private_targets
        self.resolver = resolver
        self._ssl = ssl_context
        self._transport: httpx.HTTPTransport | None = None

    def _get_transport(self) -> httpx.HTTPTransport:
        if self._transport is None:
            self._transport = httpx.HTTPTransport(
                verify=self._ssl if self._ssl is not None else True, retries=0,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def send(self, url: str, headers: Mapping[str, str], body: bytes, *,
             acknowledge: Acknowledge) -> Outcome:
        """POST ``body`` to ``url``; ``acknowledge(status, body)`` judges the response."""
        start = time.perf_counter()

        def took() -> float:
            return round((time.perf_counter() - start) * 1000, 1)

        try:
            target = resolve_target(url, allow_private=self.allow_private_targets,
                                    resolver=self.resolver)
        except (Blocked, Unresolvable) as exc:
            return Outcome(False, str(exc), duration_ms=took(), error=str(exc))
        parts = urlsplit(url)
        sent = {"Host": _host_header(target.host, target.port, target.scheme),
                "User-Agent": USER_AGENT, **headers}
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            sent["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        deadline = time.monotonic() + self.timeout_s
        error = "no address"
        for address in target.addresses:
            shown = f"[{address}]" if address.version == 6 else str(address)
            try:
                request = httpx.Request(
                    "POST", f"{target.scheme}://{shown}:{target.port}{path}", headers=sent,
                    content=body, extensions={
                        "timeout": httpx.Timeout(self.timeout_s).as_dict(),
                        **({"sni_hostname": target.host} if target.scheme == "https" else {}),
                    })
                return self._exchange(request, deadline, acknowledge, took)
            except httpx.ConnectError as exc:
                error = _transport_error(exc, self.timeout_s)  # try the next address
            except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
                error = _transport_error(exc, self.timeout_s)
                return Outcome(False, error, duration_ms=took(), error=error)
        return Outcome(False, error, duration_ms=took(), error=error)

    def _exchange(self, request: httpx.Request, deadline: float, acknowledge: Acknowledge,
                  took: Callable[[], float]) -> Outcome:
        response = self._get_transport().handle_request(request)
        try:
            received = bytearray()
            assert isinstance(response.stream, httpx.SyncByteStream)
            for chunk in response.stream:
                received += chunk
                # The per-read timeout alone lets a dripping server hold us forever.
                if time.monotonic() > deadline:
                    raise _Overdue()
                if len(received) >= MAX_READ:
                    break
        finally:
            response.close()
        status = response.status_code
        kept = {k: v[:200] for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
        excerpt = bytes(received[:MAX_EXCERPT]).decode("utf-8", "replace")
        if 300 <= status < 400:
            return Outcome(False, f"HTTP {status}: redirect not followed", status, kept,
                           excerpt, took(), "redirect not followed")
        delivered, reason = acknowledge(status, bytes(received))
        return Outcome(delivered, reason, status, kept, excerpt, took(), None)


class _Overdue(httpx.TimeoutException):
    """The whole exchange took longer than the timeout."""

    def __init__(self) -> None:
        super().__init__("the response took too long")

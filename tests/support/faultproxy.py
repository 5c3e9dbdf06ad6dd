"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, for the reconciler's tests.

It sits between the reconciler (``WEBHOOKS_API_URL`` = ``proxy.url``) and a real
``webhooks serve`` on another loopback port, and runs in a thread of the test process
so a test can script faults, watch requests go by and act on the server meanwhile.

Each request is matched against the scripted faults in order; the first that matches
and has hits left decides what happens (``Fault.skip`` lets the first matches through):

    STATUS        answer ``status`` (and ``Retry-After``; ``body`` instead of a problem
                  document) without forwarding
    STATUS_AFTER  forward (the server acts), then answer ``status`` instead of its answer
    RESET         reset the connection (TCP RST) without forwarding
    LOSE          forward (the server acts), then reset: the answer is lost
    SLOW          forward, then answer only after ``delay`` s (past the client's timeout)
    LATE          wait ``delay`` s, then forward: the server acts after the client gave up
    HOLD          signal ``held``, wait for ``release``, then forward
    KILL          forward, call ``on_kill`` (the test kills the server), then reset

While the upstream refuses connections (a server restarting), requests wait for it up to
``upstream_wait`` seconds, as a load balancer would: nothing was sent, so nothing is lost.
A request whose upstream connection breaks after it was sent is answered with a reset:
the proxy cannot know whether the server acted. Each upstream request gets its own
connection, so a connection error is never ambiguous.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

import httpx

STATUS = "status"
STATUS_AFTER = "status-after"
RESET = "reset"
LOSE = "lose"
SLOW = "slow"
LATE = "late"
HOLD = "hold"
KILL = "kill"
KINDS = frozenset({STATUS, STATUS_AFTER, RESET, LOSE, SLOW, LATE, HOLD, KILL})

# Not forwarded either way: they describe one hop, or the proxy recomputes them.
HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                         "te", "upgrade", "host", "content-length", "accept-encoding",
                         "content-encoding"})
HOLD_LIMIT = 30.0


@dataclass
class Fault:
    """One scripted fault: which requests it hits (method, path prefix) and how often."""

    kind: str
    method: str | None = None
    path: str | None = None
    times: int = 1
    skip: int = 0
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    body: bytes | None = None
    hits: int = field(default=0, init=False)
    _seen: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    def take(self, method: str, path: str) -> bool:
        """Whether this request is hit (counting it)."""
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        if self.hits >= self.times:
            return False
        self._seen += 1
        if self._seen <= self.skip:
            return False
        self.hits += 1
        return True


@dataclass(frozen=True)
class Seen:
    """One request as the proxy handled it."""

    at: float  # time.monotonic()
    method: str
    path: str
    fault: str | None  # the fault's kind, or None
    status: int | None  # what the client got; None when its connection was reset
    name: str | None  # the "name" of a JSON body, when there is one
    upstream_lost: bool = False  # sent to the server, which never answered


@dataclass(frozen=True)
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def name(self) -> str | None:
        try:
            data = json.loads(self.body) if self.body else None
        except ValueError:
            return None
        name = data.get("name") if isinstance(data, dict) else None
        return name if isinstance(name, str) else None


class _UpstreamDown(Exception):
    """Nothing was sent: the upstream refused connections for ``upstream_wait`` s."""


class _UpstreamLost(Exception):
    """The request was sent, and the connection broke before the answer came."""


class FaultProxy:
    """The proxy; ``with FaultProxy(port) as proxy:`` serves until the block ends."""

    def __init__(self, upstream_port: int, *, upstream_wait: float = 15.0) -> None:
        self.upstream_port = upstream_port  # a test may change it (a restarted server)
        self.upstream_wait = upstream_wait
        self.on_kill: Callable[[], None] | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.port = 0
        self._faults: list[Fault] = []
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._startup_error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the test's side ---------------------------------------------------------------

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def count(self, method: str | None = None, *, status: int | None = None,
              fault: str | None = None) -> int:
        return sum(1 for s in self.seen()
                   if (method is None or s.method == method)
                   and (status is None or s.status == status)
                   and (fault is None or s.fault == fault))

    def wait_until(self, predicate: Callable[[list[Seen]], bool], timeout: float) -> bool:
        """Poll until ``predicate(seen)`` holds; False when ``timeout`` s pass first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.seen()):
                return True
            time.sleep(0.01)
        return predicate(self.seen())

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10) or self._startup_error is not None:
            raise RuntimeError(f"the fault proxy did not start: {self._startup_error!r}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release.set()  # nothing stays held past the test
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(15)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        assert not self._thread.is_alive(), "the fault proxy did not stop"

    # --- the proxy's thread ------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # reported by __enter__
            self._startup_error = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _start(self) -> None:
        # No keep-alive upstream: each request on its own connection (see the docstring).
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=2.0), follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0))
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        assert self._server is not None and self._client is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        await self._client.aclose()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None or not await self._one(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            pass  # the client went away, or sent something that is not HTTP/1.1
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.transport.abort()

    def _match(self, request: _Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.take(request.method, request.path):
                    return fault
        return None

    def _record(self, request: _Request, fault: Fault | None, status: int | None,
                *, lost: bool = False) -> None:
        seen = Seen(time.monotonic(), request.method, request.path,
                    None if fault is None else fault.kind, status, request.name, lost)
        with self._lock:
            self._seen.append(seen)

    async def _one(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        """Handle one request; False when the connection is done with."""
        fault = self._match(request)
        kind = None if fault is None else fault.kind
        if fault is not None and kind == STATUS:
            extra = [("Retry-After", fault.retry_after)] if fault.retry_after else []
            if fault.body is not None:
                await _reply(writer, fault.status, [("content-type", "text/html"), *extra],
                             fault.body)
            else:
                await _reply_problem(writer, fault.status, extra)
            self._record(request, fault, fault.status)
            return True
        if kind == RESET:
            self._record(request, fault, None)
            _reset(writer)
            return False
        if fault is not None and kind == LATE:
            await asyncio.sleep(fault.delay)
        if kind == HOLD:
            self.held.set()
            deadline = time.monotonic() + HOLD_LIMIT
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        try:
            response = await self._forward(request)
        except _UpstreamDown:
            await _reply_problem(writer, 502, [])
            self._record(request, fault, 502)
            return True
        except _UpstreamLost:
            self._record(request, fault, None, lost=True)
            _reset(writer)
            return False
        if kind in (LOSE, KILL):
            if kind == KILL and self.on_kill is not None:
                self.on_kill()
            self._record(request, fault, None)
            _reset(writer)
            return False
        if fault is not None and kind == STATUS_AFTER:
            await _reply_problem(writer, fault.status, [])
            self._record(request, fault, fault.status)
            return True
        if fault is not None and kind == SLOW:
            await asyncio.sleep(fault.delay)
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in HOP_HEADERS]
        self._record(request, fault, response.status_code)
        await _reply(writer, response.status_code, headers, response.content)
        return True

    async def _forward(self, request: _Request) -> httpx.Response:
        assert self._client is not None
        headers = [(k, v) for k, v in request.headers if k.lower() not in HOP_HEADERS]
        deadline = time.monotonic() + self.upstream_wait
        while True:
            url = f"http://127.0.0.1:{self.upstream_port}{request.target}"
            try:
                return await self._client.request(request.method, url, headers=headers,
                                                  content=request.body)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if time.monotonic() > deadline:
                    raise _UpstreamDown() from None
                await asyncio.sleep(0.05)
            except httpx.TransportError:
                raise _UpstreamLost() from None


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """One HTTP/1.1 request (Content-Length bodies only); None at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    fields = {k.lower(): v for k, v in headers}
    if "chunked" in fields.get("transfer-encoding", "").lower():
        raise ValueError("chunked request bodies are not supported by the fault proxy")
    length = int(fields.get("content-length", "0") or "0")
    body = await reader.readexactly(length) if length else b""
    return _Request(method, target, headers, body)


async def _reply(writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]],
                 body: bytes) -> None:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"content-length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


async def _reply_problem(writer: asyncio.StreamWriter, status: int,
                         extra: list[tuple[str, str]]) -> None:
    body = json.dumps({"type": "about:blank", "title": http.HTTPStatus(status).phrase,
                       "status": status, "detail": "injected by the fault proxy"}).encode()
    await _reply(writer, status, [("content-type", "application/problem+json"), *extra], body)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed peer or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()

"""Real webhook receivers on 127.0.0.1 for the delivery tests.

``Receiver`` is a plain HTTP server checking with oracles: sibs deliveries are opened with
``cryptography``'s AESGCM used directly (not our decode_sibs); standard-webhooks ones are
verified with the ``standardwebhooks`` library (``notification`` is then the envelope's
``data``, ``envelope`` the whole message). Each request takes the next behaviour from
``script`` (the last one repeats). It keeps count of what it was sent and what it
acknowledged, and when. Options for the crash tests: ``delay_s`` before every answer;
``answer_first=K`` answers the first K deliveries and holds every later one unanswered (in
flight) until ``answer_all``, when a held one is dropped without an answer, since the
process that sent it is gone; ``reject_unopened`` answers 400 to what it cannot open.

``ListenReceiver`` is our own `webhooks listen` app (the code under test), served by uvicorn.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks.webhooks import Webhook

from reconciler.commands.listen import bind
from reconciler.receiver import create_receiver
from tests.support.secrets import SIBS_SECRET, WHSEC

# ack: the right acknowledgement; wrong-id / wrong-msg / wrong-code: a wrong one;
# 500: a server error; redirect: 302 elsewhere; slow: answer after `slow_s`;
# 204: an empty 2xx (standard-webhooks success); not-json: 200 with HTML; drip: 200 and a
# body a byte at a time over `slow_s`; big: 200 and 100 KiB.
BEHAVIOURS = ("ack", "wrong-id", "wrong-msg", "wrong-code", "500", "redirect", "slow", "204",
              "not-json", "drip", "big")
ACKNOWLEDGING = ("ack", "slow", "204")
HOLD_LIMIT = 60.0  # a held request never outlives a test that forgot to release it


def open_sibs(headers: dict[str, str], body: bytes, secret: str = SIBS_SECRET) -> dict[str, Any]:
    """The oracle: AES-256-GCM straight from cryptography."""
    iv = base64.b64decode(headers["x-initialization-vector"])
    tag = base64.b64decode(headers["x-authentication-tag"])
    plain = AESGCM(base64.b64decode(secret)).decrypt(iv, base64.b64decode(body) + tag, None)
    result: dict[str, Any] = json.loads(plain)
    return result


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    notification: dict[str, Any] | None
    problem: str | None = None
    at: float = field(default_factory=time.monotonic)
    envelope: dict[str, Any] | None = None  # a standard-webhooks message, whole

    @property
    def nid(self) -> str | None:
        """The notification id, if the delivery could be opened."""
        return None if self.notification is None else str(self.notification["notificationID"])


@dataclass
class Receiver:
    """A threaded HTTP server; ``url(path)`` for webhooks, ``received``, ``acked`` (notification
    ids whose acknowledgement was written in full, in order) for assertions."""

    script: list[str] = field(default_factory=lambda: ["ack"])
    slow_s: float = 2.0
    sibs_secret: str = SIBS_SECRET
    whsec: str = WHSEC
    delay_s: float = 0.0
    answer_first: int | None = None  # None: answer every delivery
    reject_unopened: bool = False
    received: list[Received] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._answer(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def received_ids(self) -> list[str]:
        """The notification ids of the deliveries opened, in the order they arrived."""
        with self._lock:
            return [r.nid for r in self.received if r.nid is not None]

    @property
    def times(self) -> dict[str, list[float]]:
        """Notification id -> the monotonic times its deliveries arrived."""
        times: dict[str, list[float]] = {}
        with self._lock:
            for r in self.received:
                if r.nid is not None:
                    times.setdefault(r.nid, []).append(r.at)
        return times

    @property
    def problems(self) -> list[str]:
        with self._lock:
            return [r.problem for r in self.received if r.problem is not None]

    def counts(self) -> tuple[int, int]:
        """(received and opened, acknowledged) so far."""
        return len(self.received_ids), len(self.acked)

    def answer_all(self) -> None:
        """Drop the held deliveries unanswered; answer every one from now on."""
        with self._lock:
            self.answer_first = None
        self._released.set()

    def _next(self) -> str:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        notification, problem, envelope = None, None, None
        try:
            if "x-initialization-vector" in headers:
                notification = open_sibs(headers, body, self.sibs_secret)
            else:
                envelope = Webhook(self.whsec).verify(body, headers)
                notification = envelope["data"]
        except Exception as exc:  # recorded; the test asserts on it
            problem = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.received.append(Received(handler.path, headers, body, notification, problem,
                                          envelope=envelope))
            hold = self.answer_first is not None and self.answer_first <= 0
            if self.answer_first is not None and not hold:
                self.answer_first -= 1
        if problem is not None and self.reject_unopened:
            handler.send_error(400)
            return
        if hold:
            self._released.wait(HOLD_LIMIT)
            handler.close_connection = True
            return
        behaviour = self._next()
        time.sleep(self.delay_s)
        nid = (notification or {}).get("notificationID", "")
        ack = {"statusCode": "200", "statusMsg": "Success", "notificationID": nid}
        status, answer = 200, ack
        if behaviour == "wrong-id":
            answer = {**ack, "notificationID": "someone-else"}
        elif behaviour == "wrong-msg":
            answer = {**ack, "statusMsg": "Failure"}
        elif behaviour == "wrong-code":
            answer = {**ack, "statusCode": "500"}
        elif behaviour == "500":
            status, answer = 500, {"error": "boom"}
        elif behaviour == "slow":
            time.sleep(self.slow_s)
        if behaviour == "redirect":
            handler.send_response(302)
            handler.send_header("Location", "http://127.0.0.1:9/elsewhere")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if behaviour in ("drip", "big"):  # 200 with a long body: slowly, or 100 KiB at once
            size = 40 if behaviour == "drip" else 100 * 1024
            handler.send_response(200)
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            try:
                if behaviour == "big":
                    handler.wfile.write(b"x" * size)
                for _ in range(size if behaviour == "drip" else 0):
                    handler.wfile.write(b"x")
                    handler.wfile.flush()
                    time.sleep(self.slow_s / size)
            except OSError:
                pass
            return
        try:
            if behaviour == "204":
                handler.send_response(204)
                handler.end_headers()
            else:
                data = (b"<html>hello</html>" if behaviour == "not-json"
                        else json.dumps(answer).encode())
                handler.send_response(status)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:  # the sender gave up (on a slow answer, or it is gone): not acked
            return
        if behaviour in ACKNOWLEDGING and notification is not None:
            with self._lock:
                self.acked.append(str(nid))

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


class ListenReceiver:
    """One `webhooks listen` app on loopback; ``out``/``err`` hold what it printed."""

    def __init__(self, secret: str, fmt: str, path: str = "/hooks") -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        app = create_receiver(secret, fmt=fmt, path=path, out=self.out.append,
                              err=self.err.append)
        sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", ws="none", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self._sock = sock
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)

    @property
    def printed(self) -> str:
        return "\n".join(self.out + self.err)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._sock.close()


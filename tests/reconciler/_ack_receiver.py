"""A sibs webhook receiver on 127.0.0.1 that keeps count: which notifications it was sent,
which it acknowledged, and when.

Each delivery is opened with ``cryptography``'s AESGCM used directly (an oracle independent
of the backoffice's own decode), answered after ``delay_s`` with the SIBS acknowledgement,
and recorded as acknowledged only once that answer was written in full. With
``answer_first=K`` it answers the first K deliveries and holds every later one unanswered
(in flight) until ``answer_all``; a held one is then dropped without an answer, since the
process that sent it is gone. Module name unique: tests/ has no packages.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HOLD_LIMIT = 60.0  # a held request never outlives a test that forgot to release it


def open_sibs(headers: dict[str, str], body: bytes, secret: str) -> dict[str, Any]:
    iv = base64.b64decode(headers["x-initialization-vector"])
    tag = base64.b64decode(headers["x-authentication-tag"])
    plain = AESGCM(base64.b64decode(secret)).decrypt(iv, base64.b64decode(body) + tag, None)
    opened: dict[str, Any] = json.loads(plain)
    return opened


class AckReceiver:
    """``url`` for the webhook; ``received``/``acked`` (notification ids, in order) and
    ``times`` (id -> monotonic times it arrived) for the assertions."""

    def __init__(self, secret: str, *, delay_s: float = 0.03,
                 answer_first: int | None = None) -> None:
        self.secret = secret
        self.delay_s = delay_s
        self.received: list[str] = []
        self.acked: list[str] = []
        self.times: dict[str, list[float]] = {}
        self.problems: list[str] = []
        self._left = answer_first  # None: answer every delivery
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._answer(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    def counts(self) -> tuple[int, int]:
        """(received, acknowledged) so far."""
        with self._lock:
            return len(self.received), len(self.acked)

    def answer_all(self) -> None:
        """Drop the held deliveries unanswered; answer every one from now on."""
        with self._lock:
            self._left = None
        self._released.set()

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            nid = str(open_sibs(headers, body, self.secret)["notificationID"])
        except Exception as exc:  # recorded; the test asserts there are none
            with self._lock:
                self.problems.append(f"{type(exc).__name__}: {exc}")
            handler.send_error(400)
            return
        with self._lock:
            self.received.append(nid)
            self.times.setdefault(nid, []).append(time.monotonic())
            hold = self._left is not None and self._left <= 0
            if self._left is not None and not hold:
                self._left -= 1
        if hold:
            self._released.wait(HOLD_LIMIT)
            handler.close_connection = True
            return
        time.sleep(self.delay_s)
        data = json.dumps({"statusCode": "200", "statusMsg": "Success",
                           "notificationID": nid}).encode()
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:  # the sender is gone: not acknowledged
            return
        with self._lock:
            self.acked.append(nid)

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

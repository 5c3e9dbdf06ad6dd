"""A real webhook receiver on 127.0.0.1 for the delivery tests, checking with oracles.

sibs deliveries are opened with ``cryptography``'s AESGCM used directly (not our
decode_sibs); standard-webhooks ones are verified with the ``standardwebhooks`` library.
Each request takes the next behaviour from ``script`` (the last one repeats).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bo_support import SIBS_SECRET, WHSEC
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks.webhooks import Webhook

# ack: the right acknowledgement; wrong-id / wrong-msg / wrong-code: a wrong one;
# 500: a server error; redirect: 302 elsewhere; slow: answer after `slow_s`;
# 204: an empty 2xx (standard-webhooks success); not-json: 200 with HTML; drip: 200 and a
# body a byte at a time over `slow_s`; big: 200 and 100 KiB.
BEHAVIOURS = ("ack", "wrong-id", "wrong-msg", "wrong-code", "500", "redirect", "slow", "204",
              "not-json", "drip", "big")


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


@dataclass
class Receiver:
    """A threaded HTTP server; ``url(path)`` for webhooks, ``received`` for assertions."""

    script: list[str] = field(default_factory=lambda: ["ack"])
    slow_s: float = 2.0
    sibs_secret: str = SIBS_SECRET
    whsec: str = WHSEC
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
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

    def _next(self) -> str:
        with self._lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        notification, problem = None, None
        try:
            if "x-initialization-vector" in headers:
                notification = open_sibs(headers, body, self.sibs_secret)
            else:
                notification = Webhook(self.whsec).verify(body, headers)
        except Exception as exc:  # recorded; the test asserts on it
            problem = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.received.append(Received(handler.path, headers, body, notification, problem))
        behaviour = self._next()
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
        if behaviour == "204":
            handler.send_response(204)
            handler.end_headers()
            return
        data = b"<html>hello</html>" if behaviour == "not-json" else json.dumps(answer).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the sender gave up on a slow answer
            pass

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

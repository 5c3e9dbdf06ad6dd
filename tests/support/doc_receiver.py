"""A merchant's webhook receiver written only from the gateway's documentation.

Nothing here comes from this project: not ``contract.formats``, not ``webhooks listen``,
not the other test receivers. It follows the documentation's steps for a webhook:

1. the body is the base64 of the ciphertext; the IV and the authentication tag come
   base64 in the ``X-Initialization-Vector`` and ``X-Authentication-Tag`` headers;
2. the key is the webhook secret decoded from base64; the cipher is AES-256-GCM (the
   documentation's sample hands the tag to OpenSSL separately, as this does through
   ``cryptography``'s low-level GCM mode rather than its AEAD helper);
3. decrypt, read the JSON, store it, and acknowledge with HTTP 200 and the JSON
   ``{"statusCode": "200", "statusMsg": "Success", "notificationID": <its id>}``.

A delivery it cannot open gets 400 and is recorded in ``refused``. It serves on
127.0.0.1 with the standard library's threaded HTTP server.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class NotOpened(Exception):
    """A delivery that does not follow the documented encryption."""


def decrypt(secret: str, iv_header: str, tag_header: str, body: bytes) -> dict[str, Any]:
    """The documented decryption: AES-256-GCM, key and IV and tag from base64."""
    try:
        key = base64.b64decode(secret, validate=True)
        iv = base64.b64decode(iv_header, validate=True)
        tag = base64.b64decode(tag_header, validate=True)
        data = base64.b64decode(body.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NotOpened(f"not base64: {exc}") from None
    if len(key) != 32:
        raise NotOpened("the secret is not an AES-256 key")
    try:
        opener = Cipher(algorithms.AES(key), modes.GCM(iv, tag)).decryptor()
        plain = opener.update(data) + opener.finalize()
    except (InvalidTag, ValueError) as exc:
        raise NotOpened(f"does not decrypt: {type(exc).__name__}") from None
    notification = json.loads(plain.decode("utf-8"))
    if not isinstance(notification, dict):
        raise NotOpened("the JSON is not an object")
    return notification


class DocReceiver:
    """The receiver on 127.0.0.1; ``stored`` holds each notification, in arrival order."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.stored: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    notification = decrypt(receiver.secret,
                                           self.headers.get("X-Initialization-Vector", ""),
                                           self.headers.get("X-Authentication-Tag", ""), body)
                except (NotOpened, UnicodeDecodeError, json.JSONDecodeError) as exc:
                    with receiver._lock:
                        receiver.refused.append(str(exc))
                    self._answer(400, {"statusCode": "400", "statusMsg": "Error"})
                    return
                with receiver._lock:
                    receiver.stored.append(notification)
                self._answer(200, {"statusCode": "200", "statusMsg": "Success",
                                   "notificationID": notification.get("notificationID")})

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sibs/webhook"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

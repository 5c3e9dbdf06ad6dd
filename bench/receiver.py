"""A loopback webhook receiver that acknowledges and counts: the far end of deliveries.

    python bench/receiver.py PORT

Any POST is read whole and answered 200 with a small JSON body (an acknowledgement for
standard-webhooks deliveries, where any 2xx counts). GET /stats returns the count and the
wall-clock times of the first and last POST; POST /reset zeroes them; GET /healthz is 200.
A raw ASGI app under uvicorn: no framework, so the receiver is never the slow side.
Benchmarks only, never tests.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import uvicorn

Scope = dict[str, Any]


class Receiver:
    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.bytes = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        size = 0
        more = True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/reset":
            self.count, self.first, self.last, self.bytes = 0, 0.0, 0.0, 0
            body = b'{"reset":true}'
        elif method == "GET" and path == "/stats":
            body = json.dumps({"count": self.count, "first": self.first, "last": self.last,
                               "bytes": self.bytes}).encode()
        elif method == "GET" and path == "/healthz":
            body = b'{"status":"ok"}'
        else:
            now = time.time()
            self.first = self.first or now
            self.last = now
            self.count += 1
            self.bytes += size
            body = b'{"statusCode":"000","statusMsg":"Success"}'
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    uvicorn.run(Receiver(), host="127.0.0.1", port=int(sys.argv[1]), access_log=False,
                log_level="warning", server_header=False, lifespan="off")


if __name__ == "__main__":
    main()

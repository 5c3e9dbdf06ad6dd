"""A slow receiver on 127.0.0.1 that keeps each request's interval, for the replica tests.

Every POST is a sibs delivery (opened with ``receivers.open_sibs``, the AESGCM oracle);
the receiver notes when it arrived, waits ``delay_s``, notes when it answers (just
before the answer is written: a sender cannot have the answer, and so cannot try again,
before that moment) and answers with the acknowledgement, or with HTTP 500 for every
``fail_every``-th request, but never twice for one delivery (notification and path): a
delivery failed on every attempt would give up after its last retry, and the test would
wait for it forever. ``visits`` then holds every request: notification id, start,
end, acknowledged or not.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.receivers import open_sibs
from tests.support.secrets import SIBS_SECRET


@dataclass(frozen=True)
class Visit:
    nid: str
    path: str  # the webhook's URL path: one delivery per (nid, path)
    start: float  # time.monotonic() at arrival
    end: float  # time.monotonic() when the answer was decided, before it was written
    acked: bool


class IntervalReceiver:
    def __init__(self, *, delay_s: float = 0.05, fail_every: int = 0) -> None:
        self.delay_s = delay_s
        self.fail_every = fail_every
        self.visits: list[Visit] = []
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._count = 0
        self._failed: set[tuple[str, str]] = set()  # deliveries answered 500 once
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                receiver._answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        start = time.monotonic()
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            nid = str(open_sibs(headers, body, SIBS_SECRET)["notificationID"])
        except Exception as exc:  # recorded; the test asserts there is none
            with self._lock:
                self.problems.append(f"{type(exc).__name__}: {exc}")
            handler.send_error(400)
            return
        with self._lock:
            self._count += 1
            fail = (self.fail_every > 0 and self._count % self.fail_every == 0
                    and (nid, handler.path) not in self._failed)
            if fail:
                self._failed.add((nid, handler.path))
        time.sleep(self.delay_s)
        answer = {"error": "boom"} if fail else {
            "statusCode": "200", "statusMsg": "Success", "notificationID": nid}
        data = json.dumps(answer).encode()
        with self._lock:
            self.visits.append(Visit(nid, handler.path, start, time.monotonic(), not fail))
        try:
            handler.send_response(500 if fail else 200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass

    def by_id(self) -> dict[str, list[Visit]]:
        """Notification id -> its visits, in order of arrival."""
        found: dict[str, list[Visit]] = {}
        with self._lock:
            for visit in sorted(self.visits, key=lambda v: v.start):
                found.setdefault(visit.nid, []).append(visit)
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

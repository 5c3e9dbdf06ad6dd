"""The bare FastAPI baseline: the same routes as the backoffice, answered from memory.

    python bench/bare_app.py PORT PAGE.json [RECEIVER_URL]

GET /v1/webhooks?limit=N returns the first N webhooks of PAGE.json (a real page taken from
`webhooks serve`, so the JSON is the same size); POST /v1/webhooks keeps the body in a
dict and answers 201 with a webhook of the same shape; POST /v1/webhooks/{id}/test POSTs a
same-sized body to RECEIVER_URL and answers with a small result. No database, no token
check, no validation beyond JSON: what FastAPI and uvicorn cost on their own, run under
uvicorn the way `webhooks serve` runs (h11, asyncio loop, no access log).
Benchmarks only, never tests.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx
import uvicorn
from fastapi import Body, FastAPI

NOTIFICATION_BYTES = 600  # about a signed notification's body


def build(page: list[dict[str, Any]], receiver: str | None) -> FastAPI:
    app = FastAPI()
    created: dict[str, dict[str, Any]] = {}
    client = httpx.AsyncClient(timeout=15.0)
    payload = b'{"n":"' + b"x" * NOTIFICATION_BYTES + b'"}'

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/webhooks")
    async def list_webhooks(limit: int = 100) -> dict[str, Any]:
        return {"data": page[:limit], "next_cursor": "djE6MTAw"}

    @app.post("/v1/webhooks", status_code=201)
    async def create(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        webhook_id = f"wh_{len(created):024x}"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        webhook = {**page[0], **body, "id": webhook_id, "version": 1, "created_at": now,
                   "updated_at": now}
        webhook.pop("secret", None)
        created[webhook_id] = webhook
        return webhook

    @app.post("/v1/webhooks/{webhook_id}/test")
    async def test(webhook_id: str) -> dict[str, Any]:
        assert receiver is not None, "started without a receiver"
        start = time.perf_counter()
        response = await client.post(receiver, content=payload,
                                     headers={"Content-Type": "application/json"})
        return {"delivered": response.is_success, "webhook": webhook_id,
                "response": {"status": response.status_code,
                             "duration_ms": (time.perf_counter() - start) * 1000}}

    return app


def main() -> None:
    port = int(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as fh:
        page = json.load(fh)
    receiver = sys.argv[3] if len(sys.argv) > 3 else None
    uvicorn.run(build(page, receiver), host="127.0.0.1", port=port, access_log=False,
                log_level="warning", server_header=False, lifespan="off")


if __name__ == "__main__":
    main()

"""The bare FastAPI baseline: the same routes as the backoffice, answered from memory.

    python bench/bare_app.py PORT PAGE.json [RECEIVER_URL] [--db-url URL]

GET /v1/webhooks?limit=N returns the first N webhooks of PAGE.json (a real page taken from
`webhooks serve`, so the JSON is the same size); POST /v1/webhooks answers 201 with a
webhook of the same shape after one durable INSERT of it into ``--db-url`` (a SQLite file:
WAL, ``synchronous=FULL`` and ``BEGIN IMMEDIATE``, as the backoffice sets them; or a
PostgreSQL URL, through psycopg, committed as the backoffice commits), or with no
``--db-url`` after keeping it in a dict; POST /v1/webhooks/{id}/test POSTs a same-sized
body to RECEIVER_URL and answers with a small result. No token check, no validation
beyond JSON: what FastAPI and uvicorn cost on their own (plus, for creates, the one
durable write every create needs), run under uvicorn the way `webhooks serve` runs (h11,
asyncio loop, no access log). Benchmarks only, never tests.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn
from fastapi import Body, FastAPI

NOTIFICATION_BYTES = 600  # about a signed notification's body
TABLE = "bare_webhooks"


def sqlite_store(path: str) -> Callable[[str, str], None]:
    """One durable INSERT per call, on a connection per thread (the backoffice pools too)."""
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in ("busy_timeout = 5000", "journal_mode = WAL", "synchronous = FULL"):
                conn.execute(f"PRAGMA {pragma}")
            local.conn = conn
        return conn

    connection().execute(f"CREATE TABLE IF NOT EXISTS {TABLE} "
                         "(pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)")

    def insert(webhook_id: str, body: str) -> None:
        conn = connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"INSERT INTO {TABLE} (id, body) VALUES (?, ?)", (webhook_id, body))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    return insert


def postgresql_store(url: str) -> Callable[[str, str], None]:
    """The same INSERT on PostgreSQL (psycopg, the backoffice's driver), a connection per
    thread, each INSERT its own committed transaction."""
    import psycopg  # only with a PostgreSQL URL

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    local = threading.local()

    def connection() -> Any:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(dsn)
        return conn

    with connection() as conn:  # commits
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} "
                     "(pk BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)")
    local.conn = None

    def insert(webhook_id: str, body: str) -> None:
        conn = connection()
        conn.execute(f"INSERT INTO {TABLE} (id, body) VALUES (%s, %s)", (webhook_id, body))
        conn.commit()

    return insert


def build(page: list[dict[str, Any]], receiver: str | None,
          store: Callable[[str, str], None] | None = None) -> FastAPI:
    app = FastAPI()
    created: dict[str, dict[str, Any]] = {}
    counter = iter(range(1 << 62))
    client = httpx.AsyncClient(timeout=15.0)
    payload = b'{"n":"' + b"x" * NOTIFICATION_BYTES + b'"}'

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/webhooks")
    async def list_webhooks(limit: int = 100) -> dict[str, Any]:
        return {"data": page[:limit], "next_cursor": "djE6MTAw"}

    def new_webhook(body: dict[str, Any]) -> dict[str, Any]:
        webhook_id = f"wh_{next(counter):024x}"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        webhook = {**page[0], **body, "id": webhook_id, "version": 1, "created_at": now,
                   "updated_at": now}
        webhook.pop("secret", None)
        return webhook

    if store is None:
        @app.post("/v1/webhooks", status_code=201)
        async def create(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
            webhook = new_webhook(body)
            created[webhook["id"]] = webhook
            return webhook
    else:
        @app.post("/v1/webhooks", status_code=201)
        def create_durably(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
            # sync, so it runs in the thread pool as the backoffice's routes do
            webhook = new_webhook(body)
            store(webhook["id"], json.dumps(webhook))
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
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("page")
    parser.add_argument("receiver", nargs="?")
    parser.add_argument("--db-url", help="sqlite:///PATH or postgresql+psycopg://...")
    args = parser.parse_args()
    with open(args.page, encoding="utf-8") as fh:
        page = json.load(fh)
    store = None
    if args.db_url is not None:
        if args.db_url.startswith("sqlite:///"):
            store = sqlite_store(args.db_url.removeprefix("sqlite:///"))
        else:
            store = postgresql_store(args.db_url)
    uvicorn.run(build(page, args.receiver, store), host="127.0.0.1", port=args.port,
                access_log=False, log_level="warning", server_header=False, lifespan="off")


if __name__ == "__main__":
    main()

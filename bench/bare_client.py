"""The bare httpx client loops the benchmarks compare against: nothing but requests.

    python bench/bare_client.py posts REQUESTS.json BASE_URL PARALLELISM
    python bench/bare_client.py load BASE_URL METHOD PATH --seconds S --concurrency C

``posts`` sends every request of REQUESTS.json (a list of {"path", "headers", "body"}) with
``PARALLELISM`` workers on one ``httpx.AsyncClient`` and fails unless each answers 2xx
(a 503 or 429, "busy", is retried after its Retry-After, as the reconciler does).
``load`` repeats one request for S seconds with C workers; ``{n}`` in a JSON body or a
header becomes a per-request counter (unique names and Idempotency-Keys for creates).
Both print one JSON line: requests, seconds, errors. Benchmarks only, never tests.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from typing import Any

import httpx

LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=64)


def _client(base_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
    # The same client settings as reconciler.providers.http.HttpProvider.
    return httpx.AsyncClient(base_url=base_url, headers=headers, limits=LIMITS,
                             timeout=httpx.Timeout(30.0, connect=5.0), follow_redirects=False)


async def posts(requests: list[dict[str, Any]], base_url: str, parallelism: int) -> dict[str, Any]:
    queue = list(reversed(requests))
    errors: list[str] = []
    retried = 0
    async with _client(base_url, {}) as client:

        async def worker() -> None:
            nonlocal retried
            while queue:
                item = queue.pop()
                for _ in range(5):
                    response = await client.post(item["path"], content=item["body"].encode(),
                                                 headers=item["headers"])
                    if response.status_code not in (429, 503):
                        break
                    # Busy: what any client must do (HttpProvider does it too).
                    retried += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                if not response.is_success:
                    errors.append(f"{response.status_code} {response.text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(parallelism, len(queue)))))
        elapsed = time.perf_counter() - start
    return {"requests": len(requests), "seconds": elapsed, "errors": len(errors),
            "retried": retried, "first_error": errors[0] if errors else None}


async def load(base_url: str, method: str, path: str, *, seconds: float, concurrency: int,
               body: str | None, headers: dict[str, str], prefix: str) -> dict[str, Any]:
    counter = itertools.count()
    done = 0
    errors: list[str] = []
    async with _client(base_url, headers) as client:
        # Warm the connections first: the loop measures requests, not handshakes.
        await asyncio.gather(*(client.get("/healthz") for _ in range(concurrency)))
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                n = next(counter)
                tag = f"{prefix}{n:07d}"
                content = None if body is None else body.replace("{n}", tag).encode()
                extra = {k: v.replace("{n}", tag) for k, v in headers.items() if "{n}" in v}
                response = await client.request(method, path, content=content,
                                                 headers=extra or None)
                await response.aread()
                if response.is_success:
                    done += 1
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"requests": done, "seconds": elapsed, "errors": len(errors),
            "first_error": errors[0] if errors else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("posts")
    p.add_argument("requests")
    p.add_argument("base_url")
    p.add_argument("parallelism", type=int)
    p = sub.add_parser("load")
    p.add_argument("base_url")
    p.add_argument("method")
    p.add_argument("path")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--body")
    p.add_argument("--header", action="append", default=[], help="Name: value")
    p.add_argument("--prefix", default="", help="prepended to the {n} counter")
    args = parser.parse_args()
    if args.command == "posts":
        with open(args.requests, encoding="utf-8") as fh:
            requests = json.load(fh)
        result = asyncio.run(posts(requests, args.base_url, args.parallelism))
    else:
        headers = dict(h.split(": ", 1) for h in args.header)
        result = asyncio.run(load(args.base_url, args.method, args.path, seconds=args.seconds,
                                  concurrency=args.concurrency, body=args.body,
                                  headers=headers, prefix=args.prefix))
    print(json.dumps(result))
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()

"""The web pages' list of 1,000 webhooks beside the API's JSON list of the same page: the
time the server spends on each request, in one run.

    .venv/bin/python bench/web_list.py [--webhooks 1000] [--repeat 30]

One backoffice on SQLite holding N webhooks (seeded like the other scripts), one app, the
two requests interleaved: `GET /v1/webhooks?limit=N` with a bearer token, and
`GET /webhooks?limit=N` with a signed-in session (the same webhooks, the same order, as
HTML: filters, table, each row's menu). The time is the server's: from the moment the
app gets the request to the end of its answer, taken by a timer wrapped around the ASGI
app (no network, no client), so what differs is what each route does. The session's
token lookup is cached like the API's, so both pay the same for who is asking; the
page's own session read is in its figure. Prints the median and the 90th percentile of
each, and the ratio of the medians (goal: the page within 2x the JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from harness import record, seed

from backoffice import Backoffice
from backoffice.http.api import create_app
from backoffice.web.render import SESSION_COOKIE
from backoffice.web.sessions import WebSessions


class Timed:
    """An ASGI app that notes how long each request took inside it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.last = time.perf_counter() - start


async def measure(office: Backoffice, token: str, count: int,
                  repeat: int) -> dict[str, list[float]]:
    timed = Timed(create_app(office))
    sid, _ = WebSessions(office.db, office.tokens, clock=office.tokens.clock).start(token)
    cases = {
        "json": ("/v1/webhooks", {"Authorization": f"Bearer {token}"}),
        "html": ("/webhooks", {"Cookie": f"{SESSION_COOKIE}={sid}"}),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    transport = httpx.ASGITransport(app=timed)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as client:
        for round_ in range(repeat + 3):  # three warm-up rounds, not counted
            for name, (path, headers) in cases.items():
                answer = await client.get(path, params={"limit": count}, headers=headers)
                assert answer.status_code == 200, (name, answer.status_code)
                if name == "html":
                    assert answer.text.count("<details class=\"menu\">") == count
                else:
                    assert len(answer.json()["data"]) == count
                if round_ >= 3:
                    times[name].append(timed.last)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "backoffice.db"
        token = seed(db, args.webhooks)
        office = Backoffice.open(f"sqlite:///{db}")
        try:
            times = asyncio.run(measure(office, token, args.webhooks, args.repeat))
        finally:
            office.close()
    medians = {name: statistics.median(found) for name, found in times.items()}
    for name, found in times.items():
        p90 = statistics.quantiles(found, n=10)[-1]
        print(f"{name:5} list of {args.webhooks}: median {medians[name] * 1000:7.1f} ms, "
              f"p90 {p90 * 1000:7.1f} ms ({len(found)} requests)")
    ratio = medians["html"] / medians["json"]
    print(f"the page / the JSON: {ratio:.2f}x (goal: at most 2x)")
    record("web_list", webhooks=args.webhooks, json_ms=round(medians["json"] * 1000, 2),
           html_ms=round(medians["html"] * 1000, 2), ratio=round(ratio, 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Notification delivery throughput to a loopback receiver, beside a bare httpx POST loop
to the same receiver, in one run.

    .venv/bin/python bench/delivery.py [--deliveries 1000] [--webhooks 10] [--repeat 3]

`webhooks serve --allow-private-targets` (pinned to CPU 0; the receiver to CPU 1) holds
K URL webhooks (standard-webhooks format: any 2xx acknowledges) that point at
bench/receiver.py and subscribe to mbway; the benchmark emits N/K notifications
(`POST /v1/notifications`, each fans out to the K webhooks) and waits until the receiver
has N deliveries; the delivery log (`GET /v1/webhooks/{id}/deliveries`) must then show
every one delivered.
Deliveries/s = N / (first emit -> last delivery received); emits are HTTP requests to
the same server on the same core, so this figure is bounded by how fast notifications
come in. The engine's own rate is the second case: the N deliveries are queued first (in
process, server stopped), then `webhooks serve` starts and drains them; deliveries/s =
N / (first delivery received -> last). The baseline:
bench/bare_client.py POSTing N bodies of the same size to the same receiver with as many
in flight as the worker sends at once (4 per webhook, 64 in all: 40 for 10 webhooks),
pinned to CPU 0 too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from harness import (
    REPO,
    backoffice_server,
    clean_env,
    queue_deliveries,
    record,
    run_process,
    seeded,
    serve_process,
)

from backoffice.delivery.settings import DeliverySettings

SERVER_CPU, RECEIVER_CPU = "0", "1"
OLD_IN_FLIGHT = 8  # the bare loop again at the old worker's concurrency, for orientation

def in_flight(webhooks: int) -> int:
    """How many attempts the worker has in flight at most: ``per_webhook`` for each
    webhook, ``concurrency`` in all (the defaults `webhooks serve` runs with)."""
    settings = DeliverySettings()
    return min(settings.concurrency, settings.per_webhook * webhooks)


def wait_for(receiver: str, count: int, timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, float] = httpx.get(receiver + "/stats").json()
        if stats["count"] >= count:
            return stats
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {stats['count']} of {count} deliveries arrived")
        time.sleep(0.02)


def check_log(client: httpx.Client, hooks: list[str], each: int, repeat: int) -> None:
    """Every webhook's log holds ``each`` delivered rows per round so far, nothing else.

    The worker records an outcome just after the receiver answers, so the last few rows
    may still say pending when the receiver has counted them all: wait for them (untimed).
    """
    want = min(1000, each * repeat)
    deadline = time.monotonic() + 60
    for hook in hooks:
        while True:
            rows = client.get(f"/v1/webhooks/{hook}/deliveries",
                              params={"limit": want}).json()["data"]
            statuses = {row["status"] for row in rows}
            if len(rows) >= want and statuses == {"delivered"}:
                break
            if time.monotonic() > deadline or statuses - {"pending", "delivered"}:
                raise RuntimeError(f"delivery log of {hook}: {len(rows)} rows, {statuses}")
            time.sleep(0.05)


def drain_rate(work: Path, receiver: str, webhooks: int, emits: int) -> tuple[float, float]:
    """(deliveries/s, server peak RSS MB) of a worker that starts with every delivery due."""
    from backoffice.facade import Backoffice

    folder = work / f"drain-{time.monotonic_ns()}"
    seeded(folder, 0)
    # The receiver is on loopback, a private target (the server allows them too).
    office = Backoffice.open(f"sqlite:///{folder / 'bo.db'}", allow_private_targets=True)
    try:
        queue_deliveries(office, receiver, webhooks, emits)
    finally:
        office.close()
    httpx.post(receiver + "/reset")
    with backoffice_server(folder / "bo.db", "--allow-private-targets",
                           cpus=SERVER_CPU) as served:
        stats = wait_for(receiver, webhooks * emits, timeout=300)
    return webhooks * emits / (stats["last"] - stats["first"]), served.max_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--webhooks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    emits = args.deliveries // args.webhooks
    concurrency = in_flight(args.webhooks)
    total = emits * args.webhooks
    ours: list[float] = []
    bare: list[float] = []
    bare_old: list[float] = []  # for orientation: the old worker's 8 in flight
    emit_s: list[float] = []
    drained: list[float] = []
    drain_rss = 0.0
    client_rss = 0.0
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        token = seeded(work, 0)
        rcv = stack.enter_context(serve_process(
            [sys.executable, str(REPO / "bench" / "receiver.py"), "{port}"], cpus=RECEIVER_CPU))
        served = stack.enter_context(backoffice_server(
            work / "bo.db", "--allow-private-targets", "--emits-per-minute", "0",
            cpus=SERVER_CPU))
        client = stack.enter_context(httpx.Client(
            base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=60))
        hooks = []
        for i in range(args.webhooks):
            response = client.post("/v1/webhooks", json={
                "name": f"receiver-{i:02d}", "type": "url", "url": f"{rcv.url}/hook/{i}",
                "application": "merchant", "notifications": ["mbway"],
                "format": "standard-webhooks"})
            response.raise_for_status()
            hooks.append(response.json()["id"])
        body_size = 0
        for r in range(args.repeat):
            httpx.post(rcv.url + "/reset")
            start = time.time()
            for _ in range(emits):
                response = client.post("/v1/notifications",
                                       json={"terminal": "10001", "type": "mbway"})
                response.raise_for_status()
                assert len(response.json()["deliveries"]) == args.webhooks
            emit_s.append(time.time() - start)
            stats = wait_for(rcv.url, total, timeout=300)
            ours.append(total / (stats["last"] - start))
            body_size = int(stats["bytes"] / stats["count"])
            check_log(client, hooks, emits, r + 1)
            rate, rss = drain_rate(work, rcv.url, args.webhooks, emits)
            drained.append(rate)
            drain_rss = max(drain_rss, rss)
            # The baseline: same receiver, same body size, same number in flight.
            requests = work / "bare.json"
            requests.write_text(json.dumps([
                {"path": f"/hook/{i % args.webhooks}", "body": "x" * body_size,
                 "headers": {"Content-Type": "application/json"}} for i in range(total)]))
            for in_flight_now, results in ((concurrency, bare), (OLD_IN_FLIGHT, bare_old)):
                httpx.post(rcv.url + "/reset")
                run = run_process([sys.executable, str(REPO / "bench" / "bare_client.py"),
                                   "posts", str(requests), rcv.url, str(in_flight_now)],
                                  env=clean_env(), cpus=SERVER_CPU)
                if run.returncode != 0:
                    raise RuntimeError(f"bare loop: {run.stdout[-300:]}{run.stderr[-300:]}")
                results.append(total / json.loads(run.stdout)["seconds"])
                client_rss = max(client_rss, run.max_rss_mb)
    mine, base = statistics.median(ours), statistics.median(bare)
    print(f"{total} deliveries ({emits} emits x {args.webhooks} webhooks, ~{body_size} B "
          f"each), median of {args.repeat}; server and bare loop on CPU {SERVER_CPU}, "
          f"receiver on CPU {RECEIVER_CPU}")
    print(f"{'case':<44} {'deliveries/s':>13} {'x bare':>7} {'peak RSS MB':>12}")
    print(f"{'bare httpx POST loop, ' + str(concurrency) + ' in flight':<44} "
          f"{base:>13.1f} {1.0:>7.2f} {client_rss:>12.1f}")
    old = statistics.median(bare_old)
    print(f"{'bare httpx POST loop, ' + str(OLD_IN_FLIGHT) + ' in flight':<44} "
          f"{old:>13.1f} {base / old:>7.2f}")
    print(f"{'webhooks serve worker (first emit -> last)':<44} {mine:>13.1f} "
          f"{base / mine:>7.2f} {served.max_rss_mb:>12.1f}")
    drain = statistics.median(drained)
    print(f"{'webhooks serve worker, all queued (drain)':<44} {drain:>13.1f} "
          f"{base / drain:>7.2f} {drain_rss:>12.1f}")
    print(f"drain against the bare loop at {OLD_IN_FLIGHT} in flight: {old / drain:.2f}x the time "
          f"({drain / old:.2f} of its rate)")
    print(f"emitting {emits} notifications took {statistics.median(emit_s):.3f} s (median)")
    record("delivery", case="worker", ours_dps=mine, bare_dps=base, ratio=base / mine,
           server_rss_mb=served.max_rss_mb, bare_rss_mb=client_rss, deliveries=total,
           emit_s=statistics.median(emit_s), bare_8_dps=old, drain_dps=drain)


if __name__ == "__main__":
    main()

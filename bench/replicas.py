"""Deliveries/s with one and with two `webhooks serve` replicas on one PostgreSQL database.

    .venv/bin/python bench/replicas.py [--deliveries 1000] [--webhooks 10] [--repeat 3]

The drain measurement of bench/delivery.py, on a throwaway PostgreSQL (bench/postgres.py):
for each case, a fresh database holds K standard-webhooks URL webhooks pointing at
bench/receiver.py and N/K notifications (N deliveries), queued in process with every
delivery held back (due in a day); then the replicas start, and once every one answers
/healthz the deliveries are made due in one UPDATE. Deliveries/s = N / (first delivery
received -> last). Afterwards every delivery must be recorded delivered, and the receiver
must have counted exactly N (none sent twice). Nothing is pinned: the replicas, PostgreSQL
and the receiver share the machine's cores. Cases are interleaved (1, 2, 1, 2, ...).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from harness import REPO, backoffice_server, clean_env, queue_deliveries, record, serve_process
from postgres import Cluster, throwaway_cluster
from sqlalchemy import func, select, update

HELD = "2999-01-01T00:00:00.000Z"


def queue(url: str, folder: Path, receiver: str, webhooks: int, emits: int) -> None:
    from backoffice.db import tables as t
    from backoffice.facade import Backoffice

    # The receiver is on loopback, a private target (the servers allow them too).
    with Backoffice.open(url, data_dir=folder, allow_private_targets=True) as office:
        queue_deliveries(office, receiver, webhooks, emits)
        with office.db.write() as conn:
            conn.execute(update(t.deliveries).values(next_attempt_at=HELD))


def release(url: str, folder: Path) -> None:
    from backoffice.db import tables as t
    from backoffice.facade import Backoffice

    with Backoffice.open(url, data_dir=folder) as office, office.db.write() as conn:
        conn.execute(update(t.deliveries).values(next_attempt_at="2000-01-01T00:00:00.000Z"))


def delivered(url: str, folder: Path) -> dict[str, int]:
    from backoffice.db import tables as t
    from backoffice.facade import Backoffice

    with Backoffice.open(url, data_dir=folder) as office, office.db.read() as conn:
        rows = conn.execute(select(t.deliveries.c.status, func.count())
                            .group_by(t.deliveries.c.status))
        return {str(status): int(n) for status, n in rows}


def drain(cluster: Cluster, work: Path, receiver: str, replicas: int, webhooks: int,
          emits: int) -> float:
    folder = Path(tempfile.mkdtemp(dir=work))
    url = cluster.create_database()
    queue(url, folder, receiver, webhooks, emits)
    total = webhooks * emits
    httpx.post(receiver + "/reset")
    env = clean_env(WEBHOOKS_DATA_DIR=str(folder))
    with ExitStack() as stack:
        for _ in range(replicas):
            stack.enter_context(backoffice_server(url, "--allow-private-targets", env=env))
        release(url, folder)
        deadline = time.monotonic() + 300
        while True:
            stats = httpx.get(receiver + "/stats").json()
            if stats["count"] >= total:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {stats['count']} of {total} deliveries arrived")
            time.sleep(0.02)
        while delivered(url, folder) != {"delivered": total}:
            if time.monotonic() > deadline:
                raise RuntimeError(f"recorded: {delivered(url, folder)}")
            time.sleep(0.1)
    stats = httpx.get(receiver + "/stats").json()
    if stats["count"] != total:
        raise RuntimeError(f"the receiver counted {stats['count']} deliveries of {total}")
    return total / (stats["last"] - stats["first"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--webhooks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    emits = args.deliveries // args.webhooks
    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        cluster = stack.enter_context(throwaway_cluster())
        rcv = stack.enter_context(serve_process(
            [sys.executable, str(REPO / "bench" / "receiver.py"), "{port}"]))
        for _ in range(args.repeat):
            for replicas in rates:
                rates[replicas].append(
                    drain(cluster, work, rcv.url, replicas, args.webhooks, emits))
    print(f"{emits * args.webhooks} deliveries ({emits} notifications x {args.webhooks} "
          f"webhooks) queued on PostgreSQL, drained; median of {args.repeat}; nothing pinned")
    one = statistics.median(rates[1])
    print(f"{'replicas':>8} {'deliveries/s':>13} {'x one':>6}  runs")
    for replicas, got in rates.items():
        rate = statistics.median(got)
        print(f"{replicas:>8} {rate:>13.1f} {rate / one:>6.2f}  "
              + ", ".join(f"{r:.0f}" for r in got))
        record("replicas", replicas=replicas, drain_dps=rate)


if __name__ == "__main__":
    main()

"""The backoffice on one core: list pages, creates and test-fires per second, each beside a
bare FastAPI app doing the same from memory, in one run.

    .venv/bin/python bench/backoffice_api.py [--webhooks 1000] [--seconds 2] [--repeat 3]
                                             [--db-url postgresql+psycopg://...]

Both servers run pinned to CPU 0 (`taskset -c 0`); the load comes from a bare httpx loop
(bench/bare_client.py `load`, 8 requests in flight, pinned to CPU 1), the same for both.
`webhooks serve` holds N webhooks on SQLite; bench/bare_app.py serves a real page of them
from memory, and answers a create after one durable INSERT into its own SQLite file (WAL,
synchronous=FULL, as ours). Test-fires are measured only when `POST /v1/webhooks/{id}/test`
exists (the delivery engine), against bench/receiver.py on loopback. Prints the median
requests/s of each, the ratio of time per request (ours / bare), and each server's peak RSS.

`--db-url URL` (an empty PostgreSQL database, e.g. postgresql+psycopg://bench@127.0.0.1/
bench) measures every case again there, printed beside the SQLite figures: ours serving
that database (seeded here), the bare app inserting its creates into it through psycopg.
`--postgres` does the same on a throwaway PostgreSQL started for the run (bench/postgres.py,
without fsync, so both sides' commits are cheap there). Both need the PostgreSQL backend
(its driver) installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from harness import (
    REPO,
    Served,
    clean_env,
    record,
    run_process,
    seed_url,
    seeded,
    serve_process,
)
from postgres import throwaway_cluster

SERVER_CPU, CLIENT_CPU = "0", "1"
TEST_PATH = "/v1/webhooks/{webhook_id}/test"
CREATE_BODY = json.dumps({
    "name": "load-{n}", "type": "url", "url": "https://hooks.shop.example/load/{n}",
    "application": "merchant", "notifications": ["mbway", "qr-code"],
    "description": "created by bench/backoffice.py",
    "labels": {"managed-by": "webhooks-reconciler", "owner": "bench-team"},
}, separators=(",", ":"))


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    path: str  # ours; {id} becomes the test webhook's id
    body: str | None = None
    idempotent: bool = False


def serve_help() -> str:
    return subprocess.run([sys.executable, "-m", "reconciler", "serve", "--help"],
                          capture_output=True, text=True, env=clean_env(), check=False).stdout


@contextmanager
def receiver() -> Iterator[Served]:
    argv = [sys.executable, str(REPO / "bench" / "receiver.py"), "{port}"]
    with serve_process(argv, cpus=CLIENT_CPU) as served:
        yield served


def load(url: str, token: str, case: Case, seconds: float, prefix: str,
         path: str) -> tuple[float, float]:
    """One burst of the bare client loop; (requests per second, client peak RSS MB)."""
    argv = [sys.executable, str(REPO / "bench" / "bare_client.py"), "load", url, case.method,
            path, "--seconds", str(seconds), "--concurrency", "8", "--prefix", prefix,
            "--header", f"Authorization: Bearer {token}"]
    if case.body is not None:
        argv += ["--body", case.body, "--header", "Content-Type: application/json"]
    if case.idempotent:
        argv += ["--header", "Idempotency-Key: bench-{n}"]
    run = run_process(argv, env=clean_env(), cpus=CLIENT_CPU)
    if run.returncode != 0:
        raise RuntimeError(f"{case.label} against {url}: {run.stdout[-500:]}{run.stderr[-500:]}")
    result = json.loads(run.stdout)
    return result["requests"] / result["seconds"], run.max_rss_mb


@dataclass(frozen=True)
class Backend:
    """One database: ours on it, the bare app writing its creates to the same kind."""

    name: str
    ours: Served
    bare: Served
    token: str


def start_backend(stack: ExitStack, name: str, db_url: str, token: str, serve_env: dict[str, str],
                  page_file: Path, bare_db_url: str, rcv: Served, extra: list[str]) -> Backend:
    ours = stack.enter_context(serve_process(
        [sys.executable, "-m", "reconciler", "serve", "--host", "127.0.0.1", "--port",
         "{port}", "--db", db_url, *extra], env=serve_env, cpus=SERVER_CPU))
    if not page_file.exists():  # the bare app's page: the real one, taken from ours
        page = httpx.get(ours.url + "/v1/webhooks", params={"limit": 1000}, timeout=60,
                         headers={"Authorization": f"Bearer {token}"}).json()["data"]
        page_file.write_text(json.dumps(page))
    bare = stack.enter_context(serve_process(
        [sys.executable, str(REPO / "bench" / "bare_app.py"), "{port}", str(page_file),
         rcv.url + "/bare", "--db-url", bare_db_url], cpus=SERVER_CPU))
    return Backend(name, ours, bare, token)


def receiving_webhook(backend: Backend, rcv: Served) -> str:
    """The id of a new webhook of ``backend`` that points at the receiver (test-fires)."""
    return str(httpx.post(backend.ours.url + "/v1/webhooks", json={
        "name": "bench-receiver", "type": "url", "url": rcv.url + "/hook",
        "application": "merchant", "notifications": ["mbway"],
        "format": "standard-webhooks"}, headers={"Authorization": f"Bearer {backend.token}"},
    ).json()["id"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db-url", help="also measure on this database, beside SQLite: an "
                        "empty PostgreSQL database (postgresql+psycopg://user@host/db), "
                        "which the benchmark seeds; the bare app writes there too")
    parser.add_argument("--postgres", action="store_true",
                        help="--db-url on a throwaway PostgreSQL started for the run "
                        "(bench/postgres.py)")
    args = parser.parse_args()
    if args.postgres and args.db_url:
        parser.error("give --postgres or --db-url, not both")
    options = serve_help()
    private = "--allow-private-targets" in options
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        if args.postgres:
            args.db_url = stack.enter_context(throwaway_cluster()).create_database()
        token = seeded(work, args.webhooks)
        rcv = stack.enter_context(receiver())
        extra = ["--allow-private-targets"] if private else []
        if "--test-fire-limit" in options:  # 8 in flight: the default bound (4) would 429
            extra += ["--test-fire-limit", "8"]
        if "--test-fires-per-minute" in options:  # a burst is thousands a minute
            extra += ["--test-fires-per-minute", "0"]
        page_file = work / "page.json"
        backends = [start_backend(stack, "sqlite", f"sqlite:///{work / 'bo.db'}", token,
                                  clean_env(), page_file, f"sqlite:///{work / 'bare.db'}",
                                  rcv, extra)]
        if args.db_url:
            pg_dir = work / "pg"
            pg_token = seed_url(args.db_url, args.webhooks, data_dir=pg_dir)
            backends.append(start_backend(
                stack, "postgresql", args.db_url, pg_token,
                clean_env(WEBHOOKS_DATA_DIR=str(pg_dir)), page_file, args.db_url, rcv, extra))
        spec = httpx.get(backends[0].ours.url + "/openapi.json").json()
        test_fires = TEST_PATH in spec.get("paths", {}) and private
        test_ids = {b.name: receiving_webhook(b, rcv) if test_fires else "" for b in backends}
        cases = [Case("list, limit=100", "GET", "/v1/webhooks?limit=100"),
                 Case("list, limit=1000", "GET", "/v1/webhooks?limit=1000"),
                 Case("create", "POST", "/v1/webhooks", CREATE_BODY, idempotent=True)]
        if test_fires:
            cases.append(Case("test-fire", "POST", "/v1/webhooks/{id}/test", "{}"))
        rates: dict[tuple[str, str, str], list[float]] = {}
        client_rss = 0.0
        for r in range(args.repeat):
            for case in cases:
                for backend in backends:
                    for side, served in (("ours", backend.ours), ("bare", backend.bare)):
                        path = case.path.replace("{id}", test_ids[backend.name] or "wh_bare")
                        rate, rss = load(served.url, backend.token, case, args.seconds,
                                         f"{backend.name}-{side}{r}-", path)
                        rates.setdefault((backend.name, side, case.label), []).append(rate)
                        client_rss = max(client_rss, rss)
        delivered = httpx.get(rcv.url + "/stats").json()["count"]
    print(f"{args.webhooks} webhooks in the database; {args.seconds:g} s bursts, median of "
          f"{args.repeat}; servers on CPU {SERVER_CPU}, client (8 in flight) on CPU {CLIENT_CPU}; "
          "the bare app's creates are one durable INSERT in the same database kind")
    header = f"{'case':<18}"
    for backend in backends:
        header += f" {backend.name + ' ours':>15} {'bare req/s':>11} {'x bare':>7}"
    print(header)
    for case in cases:
        line = f"{case.label:<18}"
        for backend in backends:
            mine = statistics.median(rates[(backend.name, "ours", case.label)])
            base = statistics.median(rates[(backend.name, "bare", case.label)])
            line += f" {mine:>15.1f} {base:>11.1f} {base / mine:>7.2f}"
            label = case.label if backend.name == "sqlite" else f"{case.label} ({backend.name})"
            record("backoffice", case=label, ours_rps=mine, bare_rps=base, ratio=base / mine,
                   server_rss_mb=backend.ours.max_rss_mb, bare_rss_mb=backend.bare.max_rss_mb)
        print(line, flush=True)
    if not test_fires:
        print("test-fire: not measured (POST /v1/webhooks/{id}/test or "
              "serve --allow-private-targets not there yet)")
        record("backoffice", case="test-fire", skipped=True)
    else:
        print(f"receiver got {delivered} test deliveries")
    for backend in backends:
        print(f"peak RSS MB ({backend.name}): webhooks serve {backend.ours.max_rss_mb:.1f}, "
              f"bare FastAPI {backend.bare.max_rss_mb:.1f}")
    print(f"peak RSS MB: client loop {client_rss:.1f}")


if __name__ == "__main__":
    main()

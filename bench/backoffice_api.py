"""The backoffice on one core: list pages, creates and test-fires per second, each beside a
bare FastAPI app doing the same from memory, in one run.

    .venv/bin/python bench/backoffice_api.py [--webhooks 1000] [--seconds 2] [--repeat 3]

Both servers run pinned to CPU 0 (`taskset -c 0`); the load comes from a bare httpx loop
(bench/bare_client.py `load`, 8 requests in flight, pinned to CPU 1), the same for both.
`webhooks serve` holds N webhooks on SQLite; bench/bare_app.py serves a real page of them
from memory. Test-fires are measured only when `POST /v1/webhooks/{id}/test` exists (the
delivery engine), against bench/receiver.py on loopback. Prints the median requests/s of
each, the ratio of time per request (ours / bare), and each server's peak RSS.
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
    backoffice_server,
    clean_env,
    record,
    run_process,
    seeded,
    serve_process,
)

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    options = serve_help()
    private = "--allow-private-targets" in options
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        token = seeded(work, args.webhooks)
        rcv = stack.enter_context(receiver())
        extra = ["--allow-private-targets"] if private else []
        if "--test-fire-limit" in options:  # 8 in flight: the default bound (4) would 429
            extra += ["--test-fire-limit", "8"]
        ours = stack.enter_context(backoffice_server(work / "bo.db", *extra, cpus=SERVER_CPU))
        auth = {"Authorization": f"Bearer {token}"}
        spec = httpx.get(ours.url + "/openapi.json").json()
        has_test = TEST_PATH in spec.get("paths", {})
        page = httpx.get(ours.url + "/v1/webhooks", params={"limit": 1000}, headers=auth,
                         timeout=60).json()["data"]
        (work / "page.json").write_text(json.dumps(page))
        bare = stack.enter_context(serve_process(
            [sys.executable, str(REPO / "bench" / "bare_app.py"), "{port}",
             str(work / "page.json"), rcv.url + "/bare"], cpus=SERVER_CPU))
        cases = [Case("list, limit=100", "GET", "/v1/webhooks?limit=100"),
                 Case("list, limit=1000", "GET", "/v1/webhooks?limit=1000"),
                 Case("create", "POST", "/v1/webhooks", CREATE_BODY, idempotent=True)]
        test_id = ""
        if has_test and private:
            hook = httpx.post(ours.url + "/v1/webhooks", headers=auth, json={
                "name": "bench-receiver", "type": "url", "url": rcv.url + "/hook",
                "application": "merchant", "notifications": ["mbway"],
                "format": "standard-webhooks"}).json()
            test_id = hook["id"]
            cases.append(Case("test-fire", "POST", "/v1/webhooks/{id}/test", "{}"))
        rates: dict[tuple[str, str], list[float]] = {}
        client_rss = 0.0
        for r in range(args.repeat):
            for case in cases:
                for side, served in (("ours", ours), ("bare", bare)):
                    path = case.path.replace("{id}", test_id or "wh_bare")
                    rate, rss = load(served.url, token, case, args.seconds, f"{side}{r}-", path)
                    rates.setdefault((side, case.label), []).append(rate)
                    client_rss = max(client_rss, rss)
        delivered = httpx.get(rcv.url + "/stats").json()["count"]
    print(f"{args.webhooks} webhooks in the database; {args.seconds:g} s bursts, median of "
          f"{args.repeat}; servers on CPU {SERVER_CPU}, client (8 in flight) on CPU {CLIENT_CPU}")
    print(f"{'case':<18} {'ours req/s':>11} {'bare req/s':>11} {'x bare':>7}")
    for case in cases:
        mine = statistics.median(rates[("ours", case.label)])
        base = statistics.median(rates[("bare", case.label)])
        print(f"{case.label:<18} {mine:>11.1f} {base:>11.1f} {base / mine:>7.2f}", flush=True)
        record("backoffice", case=case.label, ours_rps=mine, bare_rps=base, ratio=base / mine,
               server_rss_mb=ours.max_rss_mb, bare_rss_mb=bare.max_rss_mb)
    if not has_test or not private:
        print("test-fire: not measured (POST /v1/webhooks/{id}/test or "
              "serve --allow-private-targets not there yet)")
        record("backoffice", case="test-fire", skipped=True)
    else:
        print(f"receiver got {delivered} test deliveries")
    print(f"peak RSS MB: webhooks serve {ours.max_rss_mb:.1f}, bare FastAPI "
          f"{bare.max_rss_mb:.1f}, client loop {client_rss:.1f}")


if __name__ == "__main__":
    main()

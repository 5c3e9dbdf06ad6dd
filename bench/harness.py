"""Shared pieces of the benchmarks: generated configs, a seeded backoffice, a server on
loopback, and whole-process timing with peak RSS. Benchmarks only, never tests."""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
NOTIFICATIONS = ["mbway", "mb-reference", "key-enter-token", "qr-code", "authorised-payment"]
OWNER = "bench-team"


def config_text(count: int, *, changed: int = 0) -> str:
    """A config of ``count`` URL webhooks, five lines each; the first ``changed`` differ."""
    lines = ["version: 1", f"owner: {OWNER}", "defaults:", "  application: merchant",
             "webhooks:"]
    for i in range(count):
        picked = ", ".join(NOTIFICATIONS[: 1 + i % len(NOTIFICATIONS)])
        suffix = " (changed)" if i < changed else ""
        lines += [f"  hook-{i:05d}:", "    type: url",
                  f"    url: https://hooks.shop.example/w/{i:05d}",
                  f"    notifications: [{picked}]",
                  f"    description: Webhook number {i}{suffix}"]
    return "\n".join(lines) + "\n"


def seed(db_path: Path, count: int) -> str:
    """Create ``count`` webhooks matching ``config_text(count)``; returns a manage token."""
    from backoffice.service import Backoffice

    office = Backoffice.open(f"sqlite:///{db_path}")
    labels = {"managed-by": "webhooks-reconciler", "owner": OWNER}
    try:
        for i in range(count):
            office.create_webhook("demo", {
                "name": f"hook-{i:05d}", "type": "url",
                "url": f"https://hooks.shop.example/w/{i:05d}", "application": "merchant",
                "notifications": NOTIFICATIONS[: 1 + i % len(NOTIFICATIONS)],
                "description": f"Webhook number {i}", "labels": labels})
        return office.create_token("demo", "manage")
    finally:
        office.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKS_")}
    env.update(extra)
    return env


@contextmanager
def server(db_path: Path, *args: str) -> Iterator[str]:
    """``webhooks serve`` on a free loopback port; yields its base URL."""
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--db", f"sqlite:///{db_path}", *args],
        env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("webhooks serve did not start") from None
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_mb: float
    returncode: int


def run_process(argv: Sequence[str], *, env: dict[str, str], cwd: Path | None = None) -> Run:
    """Run one whole process; wall time and its peak RSS (wait4's rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if proc.stderr is not None:
        proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    return Run(elapsed, usage.ru_maxrss / 1024, code)


def median_run(argv: Sequence[str], *, env: dict[str, str], repeat: int,
               ok: Sequence[int] = (0,), cwd: Path | None = None) -> Run:
    runs = [run_process(argv, env=env, cwd=cwd) for _ in range(repeat)]
    for r in runs:
        if r.returncode not in ok:
            raise RuntimeError(f"{argv[:4]} exited {r.returncode}")
    return Run(statistics.median(r.seconds for r in runs),
               max(r.max_rss_mb for r in runs), runs[0].returncode)


def self_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

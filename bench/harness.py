"""Shared pieces of the benchmarks: generated configs, a seeded backoffice, a server on
loopback, and whole-process timing with peak RSS. Benchmarks only, never tests."""

from __future__ import annotations

import json
import os
import resource
import shutil
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
from typing import Any

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
    return seed_url(f"sqlite:///{db_path}", count)


def seed_url(db_url: str, count: int, data_dir: Path | None = None) -> str:
    """``seed`` into any database URL (its server key in ``data_dir``, for other backends)."""
    from backoffice.facade import Backoffice

    office = Backoffice.open(db_url, data_dir=data_dir)
    labels = {"managed-by": "webhooks-reconciler", "owner": OWNER}
    try:
        for i in range(count):
            office.webhooks.create_webhook("demo", {
                "name": f"hook-{i:05d}", "type": "url",
                "url": f"https://hooks.shop.example/w/{i:05d}", "application": "merchant",
                "notifications": NOTIFICATIONS[: 1 + i % len(NOTIFICATIONS)],
                "description": f"Webhook number {i}", "labels": labels})
        return office.tokens.create_token("demo", "manage")
    finally:
        office.close()


def queue_deliveries(office: Any, receiver: str, webhooks: int, emits: int) -> None:
    """``webhooks`` standard-webhooks URL webhooks at ``receiver``/hook/<i>, and ``emits``
    notifications that fan out to all of them: webhooks x emits deliveries, due now."""
    for i in range(webhooks):
        office.webhooks.create_webhook("demo", {
            "name": f"receiver-{i:02d}", "type": "url", "url": f"{receiver}/hook/{i}",
            "application": "merchant", "notifications": ["mbway"],
            "format": "standard-webhooks"})
    for _ in range(emits):
        office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKS_")}
    env.update(extra)
    return env


class Served:
    """A server process started by ``serve_process``: its URL, log, and (once stopped) peak RSS."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.url = url
        self.proc = proc
        self.log_path = log_path
        self.max_rss_mb = 0.0
        self.kept_log: str | None = None  # the log as it was when the server stopped

    def log_lines(self) -> list[str]:
        if self.kept_log is not None:
            return self.kept_log.splitlines()
        return self.log_path.read_text(errors="replace").splitlines()

    def count(self, method: str, path_prefix: str = "") -> int:
        """Access-log lines (``backoffice.access: METHOD /path STATUS``) for this method."""
        needle = f"backoffice.access: {method} {path_prefix}"
        return sum(1 for line in self.log_lines() if needle in line)

    def stop(self) -> None:
        """Note its peak RSS, then SIGTERM (SIGKILL after 30 s)."""
        if self.proc.returncode is not None:
            return
        self.max_rss_mb = vm_hwm_mb(self.proc.pid)
        self.proc.terminate()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                return
            if time.monotonic() > deadline:
                self.proc.kill()
                deadline = time.monotonic() + 30
            time.sleep(0.02)


def vm_hwm_mb(pid: int) -> float:
    """A live process's peak RSS (VmHWM): its own address space's, unlike a forked child's
    ``ru_maxrss``, which starts at its parent's (see spawn.py)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pinned(argv: Sequence[str], cpus: str | None) -> list[str]:
    """``argv`` under ``taskset -c cpus`` when asked and available (taskset execs: same pid)."""
    if cpus is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return list(argv)
    return ["taskset", "-c", cpus, *argv]


@contextmanager
def serve_process(argv: Sequence[str], *, health: str = "/healthz", cpus: str | None = None,
                  env: dict[str, str] | None = None, log_dir: Path | None = None,
                  port: int | None = None) -> Iterator[Served]:
    """Start a loopback server (``argv`` gets ``{port}`` filled in); stop it on exit."""
    port = port or free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench-log-", dir=log_dir))
    log_path = folder / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(pinned([a.replace("{port}", str(port)) for a in argv], cpus),
                                env=env or clean_env(), stdout=log, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(served.url + health, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                tail = "\n".join(served.log_lines()[-5:])
                raise RuntimeError(f"{argv[:4]} did not start:\n{tail}")
            time.sleep(0.05)
        yield served
    finally:
        served.stop()
        served.kept_log = log_path.read_text(errors="replace")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def backoffice_server(db_path: Path | str, *args: str, cpus: str | None = None,
                      env: dict[str, str] | None = None) -> Iterator[Served]:
    """``webhooks serve`` on ``db_path`` (a SQLite file, or a database URL as it is),
    optionally pinned to ``cpus``."""
    db_url = db_path if isinstance(db_path, str) else f"sqlite:///{db_path}"
    argv = [sys.executable, "-m", "reconciler", "serve", "--host", "127.0.0.1",
            "--port", "{port}", "--db", db_url, *args]
    with serve_process(argv, cpus=cpus, env=env) as served:
        yield served


def seeded(dest: Path, count: int) -> str:
    """``dest``/bo.db and server.key holding ``count`` webhooks (``seed``); returns the token.

    Seeding 10,000 takes ~15 s (one durable transaction each), so a template is kept in
    ``BENCH_CACHE`` (set by run_all.py) and copied; without it, every call seeds afresh.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cache = os.environ.get("BENCH_CACHE")
    if not cache:
        return seed(dest / "bo.db", count)
    template = Path(cache) / f"seed-{count}"
    if not (template / "token").is_file():
        shutil.rmtree(template, ignore_errors=True)
        template.mkdir(parents=True)
        (template / "token").write_text(seed(template / "bo.db", count))
    for name in ("bo.db", "server.key"):
        shutil.copy(template / name, dest / name)
    return (template / "token").read_text()


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str = ""
    stderr: str = ""
    cpu_seconds: float = 0.0  # user + system


def run_process(argv: Sequence[str], *, env: dict[str, str], cwd: Path | None = None,
                cpus: str | None = None) -> Run:
    """Run one whole process; wall time and its peak RSS (wait4's rusage).

    Forked from bench/spawn.py, a small go-between, so the RSS is the process's own and
    not this benchmark's (see spawn.py); it also times fork to reap, leaving its own start
    out. Output goes to files, not pipes: a chatty process never blocks on a full pipe.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json") as result:
        shim = [sys.executable, "-S", "-I", str(REPO / "bench" / "spawn.py"), result.name,
                cpus if cpus is not None and (os.cpu_count() or 1) > 1 else "-"]
        code = subprocess.call([*shim, *argv], env=env, cwd=cwd, stdout=out, stderr=err)
        measured = json.loads(Path(result.name).read_text() or "{}")
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if not measured:
        raise RuntimeError(f"could not run {list(argv)[:4]}: {stderr[-500:]}")
    return Run(measured["seconds"], measured["max_rss_kb"] / 1024, code, stdout, stderr,
               measured["cpu_seconds"])


def median_run(argv: Sequence[str], *, env: dict[str, str], repeat: int,
               ok: Sequence[int] = (0,), cwd: Path | None = None) -> Run:
    runs = [run_process(argv, env=env, cwd=cwd) for _ in range(repeat)]
    for r in runs:
        if r.returncode not in ok:
            raise RuntimeError(f"{argv[:4]} exited {r.returncode}: {r.stderr[-500:]}")
    return Run(statistics.median(r.seconds for r in runs),
               max(r.max_rss_mb for r in runs), runs[0].returncode,
               cpu_seconds=statistics.median(r.cpu_seconds for r in runs))


def self_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ratio(value: float, base: float) -> float:
    return value / base if base else float("nan")


def record(bench: str, **row: object) -> None:
    """Append one result row to ``BENCH_RESULTS`` (JSON lines; run_all.py prints the table)."""
    target = os.environ.get("BENCH_RESULTS")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"bench": bench, **row}) + "\n")

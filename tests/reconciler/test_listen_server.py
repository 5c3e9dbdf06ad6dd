"""Over real loopback sockets: `webhooks serve --allow-private-targets`, `webhooks listen` and
the CLI reaching the server through WEBHOOKS_API_URL, each its own process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from _delivery_support import SIBS_SECRET, assert_no_secret

from backoffice.facade import Backoffice

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKS_")}
    env.pop("NO_COLOR", None)
    return {**env, **extra}


class Process:
    """One long-running `webhooks ...` process, its output in files (a full pipe blocks)."""

    def __init__(self, workdir: Path, name: str, args: list[str], env: dict[str, str],
                 ready_url: str) -> None:
        self.out_path = workdir / f"{name}.out"
        self.err_path = workdir / f"{name}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "reconciler", *args],
                                            cwd=workdir, env=env, stdout=out, stderr=err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{name} exited with {self.process.returncode}: {self.err}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.process.kill()
        pytest.fail(f"{name} did not come up in 30 s: {self.err}")

    @property
    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def err(self) -> str:
        return self.err_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for p in started:
        p.stop(signal.SIGKILL)


def test_serve_listen_and_test_over_loopback(tmp_path: Path, processes: list[Process]) -> None:
    db_url = f"sqlite:///{tmp_path / 'bo.db'}"
    with Backoffice.open(db_url) as office:
        token = office.tokens.create_token("demo", "manage")

    serve_port, listen_port = free_port(), free_port()
    api = f"http://127.0.0.1:{serve_port}"
    server = Process(tmp_path, "serve",
                     ["serve", "--port", str(serve_port), "--db", db_url,
                      "--allow-private-targets"], base_env(), api + "/healthz")
    processes.append(server)
    hook_url = f"http://127.0.0.1:{listen_port}/hooks"
    listener = Process(tmp_path, "listen", ["listen", "--port", str(listen_port)],
                       base_env(WEBHOOKS_LISTEN_SECRET=SIBS_SECRET), hook_url)
    processes.append(listener)

    cfg = tmp_path / "webhooks.yaml"
    cfg.write_text(yaml.safe_dump({
        "version": 1, "owner": "payments-team",
        "webhooks": {"orders": {"type": "url", "url": hook_url, "application": "merchant",
                                "notifications": ["mbway"], "secret": "${env:ORDERS_SECRET}"}},
    }))
    env = base_env(WEBHOOKS_API_URL=api, WEBHOOKS_API_TOKEN=token, ORDERS_SECRET=SIBS_SECRET)
    printed: list[str] = []

    def webhooks(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "reconciler", "--no-color", *args],
                                cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60, check=False)
        printed.extend((result.stdout, result.stderr))
        return result

    applied = webhooks("apply", "--auto-approve", "--test")
    assert applied.returncode == 0, applied.stderr
    assert "test orders: delivered (200 in " in applied.stdout

    tested = webhooks("test", "orders")
    assert tested.returncode == 0, tested.stderr
    assert '"test": true' in tested.stdout and "Result: delivered (200 in " in tested.stdout
    sent_id = next(line.split('"')[3] for line in tested.stdout.splitlines()
                   if '"notificationID"' in line)

    emitted = webhooks("emit", "--terminal", "20001", "--type", "mbway", "--amount", "9.99")
    assert emitted.returncode == 0 and "  orders  " in emitted.stdout
    deadline = time.monotonic() + 20  # the server's worker delivers in the background
    while True:
        log = webhooks("deliveries", "orders", "--format", "json")
        assert log.returncode == 0, log.stderr
        latest = json.loads(log.stdout)[0]
        if latest["status"] == "delivered" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert latest["status"] == "delivered" and latest["test"] is False

    assert listener.stop(signal.SIGINT) == 0
    out = listener.out
    assert f'"notificationID": "{sent_id}"' in out and "9.99 EUR  terminal 20001" in out
    assert "Stopped." in listener.err
    assert server.stop() == 0
    assert_no_secret(*printed, out, listener.err, server.err, server.out)
    for text in (*printed, out, listener.err, server.err, server.out):
        assert token not in text

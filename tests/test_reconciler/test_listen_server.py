"""Over real loopback sockets: `webhooks serve --allow-private-targets`, `webhooks listen` and
the CLI reaching the server through WEBHOOKS_API_URL, each its own process."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from backoffice.facade import Backoffice
from tests.support.env import clean_env
from tests.support.processes import Process, Processes, free_port
from tests.support.secrets import SIBS_SECRET, assert_no_secret
from tests.support.serve import run_cli

pytestmark = pytest.mark.slow


def test_serve_listen_and_test_over_loopback(tmp_path: Path, processes: Processes) -> None:
    db_url = f"sqlite:///{tmp_path / 'bo.db'}"
    with Backoffice.open(db_url) as office:
        token = office.tokens.create_token("demo", "manage")

    serve_port, listen_port = free_port(), free_port()
    api = f"http://127.0.0.1:{serve_port}"
    server = Process(processes, tmp_path, "serve",
                     ["serve", "--port", str(serve_port), "--db", db_url,
                      "--allow-private-targets"], clean_env(), api + "/healthz")
    hook_url = f"http://127.0.0.1:{listen_port}/hooks"
    listener = Process(processes, tmp_path, "listen", ["listen", "--port", str(listen_port)],
                       clean_env(WEBHOOKS_LISTEN_SECRET=SIBS_SECRET), hook_url)

    cfg = tmp_path / "webhooks.yaml"
    cfg.write_text(yaml.safe_dump({
        "version": 1, "owner": "payments-team",
        "webhooks": {"orders": {"type": "url", "url": hook_url, "application": "merchant",
                                "notifications": ["mbway"], "secret": "${env:ORDERS_SECRET}"}},
    }))
    env = clean_env(WEBHOOKS_API_URL=api, WEBHOOKS_API_TOKEN=token, ORDERS_SECRET=SIBS_SECRET)
    printed: list[str] = []

    def webhooks(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, env=env, cwd=tmp_path)
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
    assert f'"notificationID": "{sent_id}"' in out
    assert "MB WAY purchase (MBWAY/PURS)  Success  9.99 EUR  token MobilePhone 351#9*****" in out
    assert "terminal 20001" in out
    assert "Stopped." in listener.err
    assert server.stop() == 0
    assert_no_secret(*printed, out, listener.err, server.err, server.out)
    for text in (*printed, out, listener.err, server.err, server.out):
        assert token not in text

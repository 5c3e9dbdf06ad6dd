"""kill -9 of `webhooks serve` in the middle of an apply of 200 creates at parallelism 8.

The fault proxy kills the server right after it committed one create and before its
answer reached the client, then holds new requests while a new server starts on the
same database (as a load balancer in front of a restarting server would). The apply
retries: the create whose answer was lost is sent again with its Idempotency-Key, and
the restarted server, finding the key in the database, replays it. Without a durable key
the retry would meet "name taken" (409) and fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.faultproxy import KILL, Fault, FaultProxy
from tests.support.processes import Processes
from tests.support.serve import (
    Server,
    api_env,
    cli_argv,
    remote,
    run_cli,
    seed,
    url_hook,
    write_config,
)

pytestmark = pytest.mark.slow
COUNT = 200
KILL_AT = 60  # the 60th create is committed, then the server dies before answering


def test_apply_survives_kill_9_of_the_server_with_no_duplicate(
        processes: Processes, tmp_path: Path) -> None:
    db = tmp_path / "bo.db"
    token, _ = seed(db)
    config = write_config(tmp_path / "webhooks.yaml",
                          {f"hook-{i:03d}": url_hook(f"h{i}") for i in range(COUNT)})
    first = Server(processes, db, tmp_path)
    with FaultProxy(first.port, upstream_wait=30) as proxy:
        proxy.on_kill = lambda: os.kill(first.process.pid, signal.SIGKILL)
        proxy.add(Fault(KILL, "POST", "/v1/webhooks", skip=KILL_AT - 1))
        apply = processes.popen(
            cli_argv("apply", "-f", str(config), "--auto-approve", "--parallelism", "8",
                     "--format", "json"),
            env=api_env(proxy.url, token), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proxy.wait_until(lambda seen: any(s.fault == KILL for s in seen), 60)
        assert first.process.wait(timeout=10) == -signal.SIGKILL
        second = Server(processes, db, tmp_path)  # same database, new port
        proxy.upstream_port = second.port
        out, err = apply.communicate(timeout=90)
        seen = proxy.seen()
    assert apply.returncode == 0, err.decode()[-3000:]
    report = json.loads(out)
    assert report["ok"] and report["summary"] == f"Apply complete: {COUNT} created."

    [killed] = [s for s in seen if s.fault == KILL]
    assert killed.name is not None
    # Sent again after the restart, and answered (replayed), not refused as a duplicate.
    retried = [s.status for s in seen if s.name == killed.name and s.at > killed.at]
    assert retried == [201]
    state = remote(second.base, token)
    assert len(state) == COUNT  # remote() fails on any duplicate name
    assert {w["version"] for w in state.values()} == {1}
    [result] = [r for r in report["results"] if r["name"] == killed.name]
    assert result["ok"] and result["id"] == state[killed.name]["id"]
    # The others in flight at the kill were lost too, and retried the same way.
    assert sum(s.upstream_lost for s in seen) <= 7
    assert "POST /v1/webhooks 409" not in second.log_text()

    replan = run_cli("plan", "-f", str(config), "--detailed-exitcode",
                     env=api_env(second.base, token), cwd=tmp_path)
    assert replan.returncode == 0, replan.stdout + replan.stderr

"""Ctrl-C (SIGINT to the process group) in the middle of an apply of 200 creates.

The change in flight finishes, no new one starts, the summary counts both, the exit code
is 130, and one re-run converges. Made deterministic by holding the change in flight
where it is: at the fault proxy (the HTTP provider), or behind a write lock on the
database (the embedded provider, which never hands the event loop back between changes:
a Ctrl-C used to go unseen there until every change was made).
"""

from __future__ import annotations

import os
import pty
import queue
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import pytest

from tests.support.env import clean_env
from tests.support.faultproxy import HOLD, Fault, FaultProxy
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
WAIT = 30.0
INTERRUPTED = "Interrupted: finishing the changes in flight, starting no new ones."


class Output:
    """A stream of a running process, read line by line in a thread (no pipe fills up)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self.lines.append(line)
                self._new.put(line)
        self._new.put(None)

    def until(self, wanted: Callable[[str], bool]) -> str:
        """The next line that is ``wanted``; fails at the end of the stream or after WAIT s."""
        while True:
            line = self._new.get(timeout=WAIT)
            assert line is not None, "the stream ended first:\n" + "".join(self.lines)[-3000:]
            if wanted(line):
                return line

    @property
    def text(self) -> str:
        """All of it, once the stream has ended."""
        self._thread.join(WAIT)
        return "".join(self.lines)


def start_apply(processes: Processes, config: Path, env: Mapping[str, str], *extra: str,
                stdin: int | None = None) -> tuple[subprocess.Popen[Any], Output, Output]:
    # Its own process group, as a shell's job: Ctrl-C signals the group.
    process: subprocess.Popen[Any] = processes.popen(
        cli_argv("apply", "-f", str(config), "--parallelism", "1", *extra),
        env=dict(env), cwd=config.parent, stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout is not None and process.stderr is not None
    return process, Output(process.stdout), Output(process.stderr)


def test_ctrl_c_mid_apply_finishes_the_change_in_flight_and_a_rerun_converges(
        processes: Processes, tmp_path: Path) -> None:
    db = tmp_path / "bo.db"
    token, _ = seed(db)
    server = Server(processes, db, tmp_path)
    config = write_config(tmp_path / "webhooks.yaml",
                          {f"hook-{i:03d}": url_hook(f"h{i}") for i in range(COUNT)})
    with FaultProxy(server.port) as proxy:
        proxy.add(Fault(HOLD, "POST", "/v1/webhooks", skip=1))  # the second create waits
        apply, out, err = start_apply(processes, config, api_env(proxy.url, token),
                                      "--auto-approve")
        first = out.until(lambda line: line.startswith("[1/"))
        assert first.startswith("[1/200] + hook-000: created (")
        assert proxy.held.wait(WAIT)
        os.killpg(apply.pid, signal.SIGINT)
        err.until(lambda line: line.strip() == INTERRUPTED)
        proxy.release.set()
        code = apply.wait(timeout=WAIT)
        posts = proxy.count("POST")
    stdout, stderr = out.text, err.text
    assert code == 130, stdout[-2000:] + stderr[-2000:]
    assert "[2/200] + hook-001: created" in stdout and "[3/200]" not in stdout
    assert stdout.rstrip().endswith(
        "Apply interrupted: 2 created; 198 not started. Run apply again to converge.")
    assert posts == 2  # nothing started after the Ctrl-C
    assert "Traceback" not in stderr and "bug" not in stderr

    assert sorted(remote(server.base, token)) == ["hook-000", "hook-001"]
    env = api_env(server.base, token)
    plan = run_cli("plan", "-f", str(config), "--detailed-exitcode", env=env, cwd=tmp_path)
    assert plan.returncode == 2
    assert "Plan: 198 to create, 0 to update, 0 to replace, 0 to delete; 2 unchanged." in (
        plan.stdout)
    rerun = run_cli("apply", "-f", str(config), "--auto-approve", env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "Apply complete: 198 created." in rerun.stdout
    converged = run_cli("plan", "-f", str(config), "--detailed-exitcode", env=env, cwd=tmp_path)
    assert converged.returncode == 0, converged.stdout + converged.stderr
    assert len(remote(server.base, token)) == COUNT


def test_ctrl_c_stops_an_embedded_apply_after_the_change_in_flight(
        processes: Processes, tmp_path: Path) -> None:
    config = write_config(tmp_path / "webhooks.yaml",
                          {f"hook-{i:03d}": url_hook(f"h{i}") for i in range(COUNT)})
    env = clean_env()
    # A terminal on standard input, so apply asks first: the pause to take the lock in.
    terminal, tty = pty.openpty()
    try:
        apply, out, err = start_apply(processes, config, env, stdin=tty)
        out.until(lambda line: line.startswith("Do you want to apply these changes?"))
        lock = sqlite3.connect(tmp_path / ".webhooks" / "backoffice.db", isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")  # the first create waits for it (busy timeout)
            os.write(terminal, b"yes\n")
            # This line ends with the blank line apply prints once its Ctrl-C handler is on;
            # a moment later the first create waits for the lock. (Were the Ctrl-C quicker
            # than that create, none would start, which is as right.)
            out.until(lambda line: line.startswith("  Enter a value:"))
            time.sleep(0.3)
            os.killpg(apply.pid, signal.SIGINT)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        code = apply.wait(timeout=WAIT)
    finally:
        os.close(terminal)
        os.close(tty)
    stdout, stderr = out.text, err.text
    assert code == 130, stdout[-2000:] + stderr[-2000:]
    # Before the fix, all 200 were created here: the loop never ran the Ctrl-C handler.
    made = 1 if "[1/200] + hook-000: created (" in stdout else 0
    assert "[2/200]" not in stdout
    done = "1 created" if made else "nothing changed"
    assert stdout.rstrip().endswith(f"Apply interrupted: {done}; {COUNT - made} not started. "
                                    "Run apply again to converge.")
    assert INTERRUPTED in stderr and "Traceback" not in stderr

    plan = run_cli("plan", "-f", str(config), "--detailed-exitcode", env=env, cwd=tmp_path)
    assert plan.returncode == 2
    assert (f"Plan: {COUNT - made} to create, 0 to update, 0 to replace, 0 to delete; "
            f"{made} unchanged.") in plan.stdout
    rerun = run_cli("apply", "-f", str(config), "--auto-approve", env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert f"Apply complete: {COUNT - made} created." in rerun.stdout
    converged = run_cli("plan", "-f", str(config), "--detailed-exitcode", env=env, cwd=tmp_path)
    assert converged.returncode == 0, converged.stdout + converged.stderr

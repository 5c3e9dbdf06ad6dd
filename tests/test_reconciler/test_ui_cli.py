"""`webhooks ui` as a process: loopback only, a one-time login link, loopback host names
only, and nothing left behind when it stops (its token and sessions removed)."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.env import clean_env
from tests.support.processes import Processes, free_port

pytestmark = pytest.mark.slow


def start_ui(processes: Processes, work: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    out = work / "ui.out"
    with out.open("wb") as sink, (work / "ui.err").open("wb") as err:
        process = processes.popen([sys.executable, "-m", "reconciler", "ui", *args],
                                  cwd=work, env=clean_env(), stdout=sink, stderr=err)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:\d+/login/link\?code=[A-Za-z0-9_-]{43}",
                          out.read_text())
        if found:
            return process, found.group(0)
        assert process.poll() is None, (work / "ui.err").read_text()
        time.sleep(0.05)
    raise AssertionError("webhooks ui printed no link")


def counts(work: Path) -> tuple[int, int]:
    with sqlite3.connect(work / ".webhooks" / "backoffice.db") as db:
        return (db.execute("SELECT count(*) FROM tokens").fetchone()[0],
                db.execute("SELECT count(*) FROM web_sessions").fetchone()[0])


def test_the_link_signs_in_once_and_stopping_removes_its_token(
        tmp_path: Path, processes: Processes) -> None:
    process, link = start_ui(processes, tmp_path)
    base = link.split("/login")[0]
    with httpx.Client(base_url=base, timeout=10) as browser:
        assert browser.get("/webhooks").status_code == 303  # not signed in yet
        signed = browser.get(link)
        assert signed.status_code == 200 and "/webhooks" in signed.text
        listed = browser.get("/webhooks")
        assert listed.status_code == 200 and "Add new webhook" in listed.text
        assert counts(tmp_path) == (1, 1)
    with httpx.Client(timeout=10) as stranger:
        assert stranger.get(link).status_code == 401  # used once already
        # A page from another site that reached this port by a name of its own: refused.
        assert stranger.get(base + "/login", headers={"Host": "evil.example"}).status_code == 400
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    assert counts(tmp_path) == (0, 0)  # its token and sessions are gone
    printed = (tmp_path / "ui.out").read_text() + (tmp_path / "ui.err").read_text()
    assert "wbo_" not in printed  # the token itself is never shown


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_the_moment_the_link_is_printed_still_removes_the_token(
        tmp_path: Path, processes: Processes, sig: signal.Signals) -> None:
    """The stop comes before uvicorn has its own handlers: it is noted all the same, the
    server stops as soon as it starts, and the token goes with it."""
    process, _link = start_ui(processes, tmp_path)
    process.send_signal(sig)
    assert process.wait(timeout=20) == 0
    assert counts(tmp_path) == (0, 0)


def test_a_read_ui_cannot_manage_and_a_given_port_is_used(tmp_path: Path,
                                                          processes: Processes) -> None:
    port = free_port()
    process, link = start_ui(processes, tmp_path, "--scope", "read", "--port", str(port))
    assert link.startswith(f"http://127.0.0.1:{port}/")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as browser:
        browser.get(link)
        assert "Add new webhook" not in browser.get("/webhooks").text
        assert browser.get("/webhooks/new").status_code == 403
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "reconciler", "ui", "--port", str(port)],
                              cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                              timeout=60, check=False)
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr

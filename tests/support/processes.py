"""Child processes of a test: a free loopback port for each, and cleanup when it ends.

Every process a test starts is registered with a ``Processes`` (the ``processes`` and
``module_processes`` fixtures of tests/conftest.py), which kills whatever is still running
when the test (or module) ends. Output goes to files, never a pipe a full buffer would block.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """The processes a test started; ``kill_all`` ends those still running."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, **kw)
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.kill_all()


def wait_ready(process: subprocess.Popen[bytes], url: str, what: str,
               log: Path, timeout: float = START_TIMEOUT) -> None:
    """Wait until ``url`` answers 200; raise with the log if the process exits or never does."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n"
                               + log.read_text(errors="replace"))
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not answer {url} in {timeout:g} s:\n"
                               + log.read_text(errors="replace"))
        time.sleep(0.03)


class Process:
    """One long-running `webhooks ...` process, its output in files, up once ``ready_url``
    answers."""

    def __init__(self, procs: Processes, workdir: Path, name: str, args: list[str],
                 env: dict[str, str], ready_url: str) -> None:
        self.out_path = workdir / f"{name}.out"
        self.err_path = workdir / f"{name}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = procs.popen([sys.executable, "-m", "reconciler", *args],
                                       cwd=workdir, env=env, stdout=out, stderr=err)
        wait_ready(self.process, ready_url, name, self.err_path)

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

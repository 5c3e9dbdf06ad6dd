"""Real processes for the reconciler's tests: `webhooks serve` on loopback and the CLI.

Every process started here is registered with a ``Processes`` (a fixture in each test
module) that kills whatever is still running when the test ends. Module name unique:
tests/ has no packages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from backoffice.facade import Backoffice

START_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any WEBHOOKS_* of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKS_")}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def seed(db_path: Path, *, merchant: str = "demo") -> tuple[str, str]:
    """Create the database (with the demo merchant) and (manage, read) tokens for it."""
    office = Backoffice.open(f"sqlite:///{db_path}")
    try:
        if merchant != "demo":
            office.merchants.create_merchant(merchant, merchant.title())
        return (office.tokens.create_token(merchant, "manage"),
                office.tokens.create_token(merchant, "read"))
    finally:
        office.close()


def seed_merchants(db_path: Path, merchants: list[str]) -> dict[str, str]:
    """Create merchants (on a database that may be in use) and a manage token for each."""
    office = Backoffice.open(f"sqlite:///{db_path}")
    try:
        tokens = {}
        for merchant in merchants:
            office.merchants.create_merchant(merchant, merchant.title())
            tokens[merchant] = office.tokens.create_token(merchant, "manage")
        return tokens
    finally:
        office.close()


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


def processes_fixture() -> Iterator[Processes]:
    """The body of each module's ``processes`` fixture."""
    procs = Processes()
    try:
        yield procs
    finally:
        procs.kill_all()


class Server:
    """One `webhooks serve` on a free loopback port, its log in a file (never a pipe)."""

    def __init__(self, procs: Processes, db_path: Path, log_dir: Path, *,
                 debug: bool = False, env: Mapping[str, str] | None = None,
                 args: Sequence[str] = ()) -> None:
        self.db_path = db_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"serve-{self.port}.log"
        argv = [sys.executable, "-m", "reconciler", *(["--debug"] if debug else []), "serve",
                "--host", "127.0.0.1", "--port", str(self.port), "--db", f"sqlite:///{db_path}",
                *args]
        with self.log.open("wb") as log:
            self.process = procs.popen(argv, env=dict(env or clean_env()), stdout=log,
                                       stderr=subprocess.STDOUT, cwd=log_dir)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}:\n"
                                   + self.log_text())
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("serve did not answer /healthz:\n" + self.log_text())
            time.sleep(0.03)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush beyond what the database already committed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", "--no-color", *args]


def run_cli(*args: str, env: Mapping[str, str], cwd: Path,
            timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``webhooks ARGS`` as its own process and wait for it."""
    return subprocess.run(cli_argv(*args), env=dict(env), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def api_env(url: str, token: str, **extra: str) -> dict[str, str]:
    return clean_env(WEBHOOKS_API_URL=url, WEBHOOKS_API_TOKEN=token, **extra)


def remote(base: str, token: str) -> dict[str, dict[str, Any]]:
    """Every webhook of the token's merchant, by name, read straight from the server.

    Fails on a duplicate name, which the backoffice should make impossible.
    """
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, str | int] = {"limit": 1000}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                      timeout=10) as client:
        while True:
            page = client.get("/v1/webhooks", params=params)
            page.raise_for_status()
            body = page.json()
            for webhook in body["data"]:
                assert webhook["name"] not in found, f"duplicate webhook {webhook['name']}"
                found[webhook["name"]] = webhook
            if not body["next_cursor"]:
                return found
            params["cursor"] = body["next_cursor"]


def write_config(path: Path, webhooks: Mapping[str, Mapping[str, Any]], *,
                 owner: str = "payments-team") -> Path:
    doc = {"version": 1, "owner": owner, "defaults": {"application": "merchant"},
           "webhooks": {k: dict(v) for k, v in webhooks.items()}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def url_hook(path: str, **fields: Any) -> dict[str, Any]:
    return {"type": "url", "url": f"https://hooks.shop.example/{path}",
            "notifications": ["mbway"], **fields}

"""`webhooks serve` on loopback and the CLI as real processes, and what they work on.

Every process started here is registered with a ``Processes`` (tests/support/processes.py),
which kills whatever is still running when the test ends.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from backoffice.facade import Backoffice
from tests.support.env import clean_env
from tests.support.processes import Processes, free_port, wait_ready

CLI_TIMEOUT = 60.0


def db_url_of(db: Path | str) -> str:
    """A database file's URL; a URL as it is."""
    return db if isinstance(db, str) else f"sqlite:///{db}"


def seed(db: Path | str, *, merchant: str = "demo",
         data_dir: Path | None = None) -> tuple[str, str]:
    """Create the database (with the demo merchant) and (manage, read) tokens for it;
    ``db`` is a file or a URL (``data_dir`` then holds the server key)."""
    office = Backoffice.open(db_url_of(db), data_dir=data_dir)
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


class Server:
    """One `webhooks serve` on a free loopback port, its log in a file (never a pipe).

    ``db`` is the database file, or a database URL as it is (a relative one is resolved in
    ``log_dir``, the working directory).
    """

    def __init__(self, procs: Processes, db: Path | str, log_dir: Path, *,
                 debug: bool = False, env: Mapping[str, str] | None = None,
                 args: Sequence[str] = ()) -> None:
        self.db = db
        self.db_url = db_url_of(db)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"serve-{self.port}.log"
        argv = [sys.executable, "-m", "reconciler", *(["--debug"] if debug else []), "serve",
                "--host", "127.0.0.1", "--port", str(self.port), "--db", self.db_url, *args]
        with self.log.open("wb") as log:
            self.process = procs.popen(argv, env=dict(env or clean_env()), stdout=log,
                                       stderr=subprocess.STDOUT, cwd=log_dir)
        wait_ready(self.process, self.base + "/healthz", "serve", self.log)

    @property
    def db_path(self) -> Path:
        assert isinstance(self.db, Path), "this server was started on a database URL"
        return self.db

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush beyond what the database already committed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", "--no-color", *args]


def run_cli(*args: str, env: Mapping[str, str], cwd: Path,
            timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``webhooks ARGS`` as its own process and wait for it."""
    return subprocess.run(cli_argv(*args), env=dict(env), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)


def create_token(workdir: Path, db_url: str, scope: str = "manage") -> str:
    """``webhooks token create`` as its own process; the token it printed (and only there)."""
    result = run_cli("token", "create", "--scope", scope, "--db", db_url, env=clean_env(),
                     cwd=workdir)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("wbo_") and token not in result.stderr
    return token


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

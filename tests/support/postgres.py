"""A throwaway PostgreSQL cluster for the test session, and a fresh database per test.

The cluster lives in a temp directory, listens on a free loopback port (and a socket in
that directory), trusts local connections, and trades durability for speed (no fsync):
it only ever holds test data. ``initdb`` refuses root, so as root the server runs as the
``postgres`` system user. Each test gets ``CREATE DATABASE t_<n>`` from a template that
already holds a new backoffice's tables and demo merchant, and is dropped after the test.

Where PostgreSQL (its server binaries or the psycopg driver) is missing, its tests skip
with the reason, unless ``CI`` is set (to anything but ``false`` or ``0``): then they
fail, so a CI machine without PostgreSQL cannot pass by skipping half the suite.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

SUPERUSER = "postgres"
TEMPLATE = "webhooks_template"
_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
    "max_connections": "300", "shared_buffers": "32MB",
    "log_min_messages": "fatal", "log_min_error_statement": "panic",
}


def required() -> bool:
    """Whether a missing PostgreSQL fails the run (CI) rather than skips its tests."""
    value = os.environ.get("CI", "").strip().lower()
    return value not in ("", "false", "0")


def unavailable(reason: str) -> None:
    """Skip the calling test, or fail it under CI."""
    if required():
        pytest.fail(f"PostgreSQL is required when CI is set: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests need a server: {reason}")


def find_program(name: str) -> str | None:
    """``name`` on the PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit()
                        else 0)
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One PostgreSQL server in a temp directory; ``stop`` removes it all."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="webhooks-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._running = False
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            entry = pwd.getpwnam(SUPERUSER)  # KeyError: no such user
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if self._as_postgres:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120,
                              check=False, cwd=self.root)

    def start(self) -> None:
        initdb, pg_ctl = find_program("initdb"), find_program("pg_ctl")
        assert initdb is not None and pg_ctl is not None
        done = self._run(initdb, "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                         "-E", "UTF8", "--locale=C", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        settings = " ".join(f"-c {k}={v}" for k, v in _SERVER_SETTINGS.items())
        for _ in range(3):  # the free port may be taken before the server binds it
            self.port = _free_port()
            options = f"-p {self.port} -k {self.root} {settings}"
            done = self._run(pg_ctl, "start", "-w", "-t", "60", "-D", str(self.data),
                             "-l", str(self.root / "server.log"), "-o", options)
            if done.returncode == 0:
                self._running = True
                return
        log = self.root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else done.stderr
        raise RuntimeError(f"pg_ctl start failed: {tail.strip()}")

    def stop(self) -> None:
        if self._running:
            pg_ctl = find_program("pg_ctl")
            assert pg_ctl is not None
            self._run(pg_ctl, "stop", "-D", str(self.data), "-m", "immediate", "-w")
            self._running = False
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def prepare_template(self, build: Any) -> None:
        """A template database holding what ``build(url)`` made (the empty tables)."""
        self._admin(f"CREATE DATABASE {TEMPLATE} TEMPLATE template0")
        build(self.url(TEMPLATE))
        self._admin(f"ALTER DATABASE {TEMPLATE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")

    def create_database(self, *, empty: bool = False) -> str:
        """A new database copied from the template (or, ``empty``, one with no table at
        all: a copy's target); its URL."""
        with self._lock:
            name = f"t_{next(self._names)}"
        template = "template0" if empty else TEMPLATE
        self._admin(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with contextlib.suppress(Exception):  # the cluster goes at the end anyway
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _build_template(url: str) -> None:
    """A new backoffice's database (its tables at the current version, the demo
    merchant) with no server key recorded yet: the key of the test that opens a copy
    becomes the database's, as on a database that test had created itself."""
    from sqlalchemy import delete

    from backoffice.db import tables
    from backoffice.facade import Backoffice

    with Backoffice.open(url, server_key=bytes(32)) as office, office.db.write() as conn:
        conn.execute(delete(tables.meta))


def start_cluster() -> Cluster:
    """Start the session's cluster (skipping or failing the caller when PostgreSQL is
    missing); it is stopped at exit whatever happens."""
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if find_program(name) is None]
    if missing:
        unavailable(f"{', '.join(missing)} not found on the PATH or in /usr/lib/postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("the psycopg driver is not installed: pip install -e '.[postgres]'")
    try:
        cluster = Cluster()
    except KeyError:
        unavailable(f"running as root needs the {SUPERUSER!r} system user to run initdb")
        raise
    atexit.register(cluster.stop)  # a crashed or interrupted run stops it too
    try:
        cluster.start()
        cluster.prepare_template(_build_template)
    except Exception as exc:
        cluster.stop()
        unavailable(str(exc))
    return cluster

"""A throwaway PostgreSQL server for the benchmarks (never tests: tests have their own in
tests/support/postgres.py): a cluster in a temp directory on a free loopback port,
trusting local connections, without fsync (it only ever holds benchmark data). As root,
the server runs as the ``postgres`` system user (initdb refuses root).

    with throwaway_cluster() as cluster:
        url = cluster.create_database()
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from harness import free_port

SUPERUSER = "postgres"
SETTINGS = {"listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off",
            "full_page_writes": "off", "max_connections": "200"}


def program(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not versions:
        raise RuntimeError(f"PostgreSQL's {name} is not on the PATH nor in /usr/lib/postgresql")
    return versions[-1]


class Cluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.port = 0
        self._names = itertools.count(1)
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *argv: str) -> None:
        command = ["runuser", "-u", SUPERUSER, "--", *argv] if self._as_postgres else list(argv)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              check=False, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        data = self.root / "data"
        self._run(program("initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        self.port = free_port()
        options = f"-p {self.port} -k {self.root} " + " ".join(
            f"-c {k}={v}" for k, v in SETTINGS.items())
        self._run(program("pg_ctl"), "start", "-w", "-t", "60", "-D", str(data),
                  "-l", str(self.root / "server.log"), "-o", options)

    def stop(self) -> None:
        if self.port:
            with suppress(RuntimeError):
                self._run(program("pg_ctl"), "stop", "-D", str(self.root / "data"),
                          "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new database, empty or a copy of ``template`` (a database's name); its URL."""
        import psycopg

        name = f"b_{next(self._names)}"
        copy = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}{copy}")  # type: ignore[arg-type]
        return self.url(name)


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

"""Private files: the database (and the WAL and shared-memory files SQLite makes beside
it), the server key, the outbox and its e-mails and crash logs are created 0600 in 0700
folders whatever the umask; files that exist keep their mode, and `serve` warns about
those others can read.

Each umask runs in a process of its own (``subprocess``'s ``umask``): the umask is the
whole process's, so it is never changed in the test process.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from backoffice import Backoffice
from tests.support.env import clean_env
from tests.support.processes import Processes
from tests.support.serve import Server, run_cli

# Opens a backoffice, writes (so the WAL and shared memory exist), delivers an e-mail to
# the outbox, writes a crash log with the CLI's writer, and reports every mode while the
# database is still open.
PROBE = """
import json, stat, sys
from pathlib import Path
from backoffice import Backoffice
from reconciler.cli import _write_bug_log

folder = Path(sys.argv[1])
office = Backoffice.open(f"sqlite:///{folder}/data/sub/backoffice.db")
office.webhooks.create_webhook("demo", {
    "name": "mail", "type": "email", "email": "ops@shop.example", "application": "merchant",
    "notifications": ["mbway"]})
office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})
office.deliveries.deliver_due()
try:
    raise RuntimeError("a bug, for the crash log")
except RuntimeError:
    _write_bug_log()
modes = {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode)
         for p in sorted(folder.rglob("*"))}
office.close()
print(json.dumps(modes))
"""


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o077, 0o277], ids=oct)
def test_every_file_is_created_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], umask=umask,
                          env=clean_env(XDG_CACHE_HOME=str(tmp_path / "cache")),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    modes: dict[str, int] = json.loads(done.stdout)
    [eml] = [p for p in modes if p.endswith(".eml")]
    [crash] = [p for p in modes if p.startswith("cache/webhooks/crash-")]
    expected = {
        "data": 0o700, "data/sub": 0o700,
        "data/sub/backoffice.db": 0o600, "data/sub/backoffice.db-wal": 0o600,
        "data/sub/backoffice.db-shm": 0o600, "data/sub/server.key": 0o600,
        "data/sub/outbox": 0o700, eml: 0o600,
        "cache": 0o700, "cache/webhooks": 0o700, crash: 0o600,
    }
    assert {p: oct(m) for p, m in modes.items()} == {p: oct(m) for p, m in expected.items()}


def test_the_embedded_backoffice_folder_is_private(tmp_path: Path) -> None:
    (tmp_path / "webhooks.yaml").write_text(
        "version: 1\nowner: o\nwebhooks:\n  mail:\n    type: email\n"
        "    email: ops@shop.example\n    application: merchant\n    notifications: [mbway]\n")
    done = subprocess.run([sys.executable, "-m", "reconciler", "apply", "--auto-approve"],
                          cwd=tmp_path, umask=0o000, env=clean_env(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    data = tmp_path / ".webhooks"
    found = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [data, *data.iterdir()]}
    assert found == {".webhooks": "0o700", "backoffice.db": "0o600", "server.key": "0o600"}


def test_token_create_makes_a_private_database(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "token", "create", "--scope", "read", "--db",
         "sqlite:///state/backoffice.db"], cwd=tmp_path, umask=0o002, env=clean_env(),
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode))
            for p in [tmp_path / "state", *(tmp_path / "state").iterdir()]} == {
        "state": "0o700", "backoffice.db": "0o600", "server.key": "0o600"}


def test_existing_files_keep_their_mode_and_serve_warns_about_loose_ones(
        tmp_path: Path, processes: Processes) -> None:
    # A database an older version made 0644, with a world-readable outbox.
    db = tmp_path / "backoffice.db"
    with Backoffice.open(f"sqlite:///{db}"):
        pass
    db.chmod(0o644)
    (tmp_path / "outbox").mkdir(mode=0o755)
    (tmp_path / "outbox").chmod(0o755)
    server = Server(processes, db, tmp_path)
    assert server.stop() == 0
    log = server.log_text()
    assert (f"{db} can be read by other users (mode 644): it holds secrets or leads to them; "
            f"run: chmod 600 {db}") in log
    assert f"run: chmod 700 {tmp_path / 'outbox'}" in log
    assert stat.S_IMODE(db.stat().st_mode) == 0o644  # never changed behind the operator
    assert "server.key can be read" not in log  # it is private: no warning


def test_a_server_key_others_can_read_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "backoffice.db"
    with Backoffice.open(f"sqlite:///{db}"):
        pass
    (tmp_path / "server.key").chmod(0o640)
    done = run_cli("token", "create", "--scope", "read", "--db", f"sqlite:///{db}",
                   env=clean_env(), cwd=tmp_path)
    assert done.returncode == 1
    assert f"the server key {tmp_path / 'server.key'} is readable by others (mode 640); " \
           f"run: chmod 600 {tmp_path / 'server.key'}" in done.stderr

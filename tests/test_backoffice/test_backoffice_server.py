"""`webhooks serve` and `webhooks token create` for real: subprocesses on loopback."""

from __future__ import annotations

import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.cli import main
from tests.support.backoffice import email_webhook, url_webhook
from tests.support.env import clean_env
from tests.support.processes import Processes, free_port
from tests.support.serve import Server, create_token, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_serve_over_real_sockets_and_stop_on_sigterm(workdir: Path, processes: Processes) -> None:
    db_url = "sqlite:///state/backoffice.db"  # relative: created under the working directory
    token = create_token(workdir, db_url)
    key = workdir / "state" / "server.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    server = Server(processes, db_url, workdir)
    with httpx.Client(base_url=server.base,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        created = client.post("/v1/webhooks", json=url_webhook(url="https://hooks.shop.example/h"))
        assert created.status_code == 201, created.text
        listed = client.get("/v1/webhooks")
        assert [w["id"] for w in listed.json()["data"]] == [created.json()["id"]]
        assert client.get("/openapi.json").json()["info"]["title"] == "Webhooks backoffice"
        # No /docs (Swagger UI loads from a CDN, which the pages' CSP refuses); the
        # pages are served at / instead, from the package alone.
        assert client.get("/docs").status_code == 404
        assert client.get("/login").headers["content-type"].startswith("text/html")
    assert server.stop(signal.SIGTERM) == 0
    log = server.log_text()
    assert "POST /v1/webhooks 201 " in log and "GET /v1/webhooks 200 " in log
    assert "stopped on SIGTERM" in log
    assert token not in log and "Authorization" not in log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_on_the_first_line_serve_prints_is_a_clean_stop(
        workdir: Path, processes: Processes, sig: signal.Signals) -> None:
    """``::ffff:127.0.0.1`` is not a loopback name to the plain-http warning, so serve
    prints that warning first, before it binds or opens the database; a stop sent then
    is noted, and serve stops as soon as it starts (it used to die of the signal)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::ffff:127.0.0.1", 0))
    except OSError as exc:
        pytest.skip(f"this machine cannot bind ::ffff:127.0.0.1 ({exc})")
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as out:
        server = processes.popen(
            [sys.executable, "-m", "reconciler", "serve", "--host", "::ffff:127.0.0.1",
             "--port", str(port), "--db", f"sqlite:///{workdir / 'b.db'}"],
            cwd=workdir, env=clean_env(), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while "plain http" not in log.read_text():
        assert time.monotonic() < deadline and server.poll() is None, log.read_text()
        time.sleep(0.01)
    server.send_signal(sig)
    assert server.wait(timeout=30) == 0, log.read_text()
    assert f"stopped on {sig.name}" in log.read_text()


def test_acknowledged_writes_survive_kill_9(workdir: Path, processes: Processes) -> None:
    db_url = f"sqlite:///{workdir / 'backoffice.db'}"
    token = create_token(workdir, db_url)
    auth = {"Authorization": f"Bearer {token}"}
    server = Server(processes, db_url, workdir)
    ids = []
    with httpx.Client(base_url=server.base, headers=auth) as client:
        for i in range(20):
            body = email_webhook(f"hook-{i:02d}") if i % 2 else url_webhook(f"hook-{i:02d}")
            response = client.post("/v1/webhooks", json=body)
            assert response.status_code == 201
            ids.append(response.json()["id"])
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    with sqlite3.connect(workdir / "backoffice.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted = Server(processes, db_url, workdir)
    with httpx.Client(base_url=restarted.base, headers=auth) as client:
        page = client.get("/v1/webhooks", params={"limit": 100}).json()
        assert [w["id"] for w in page["data"]] == ids
        assert client.get(f"/v1/webhooks/{ids[-1]}").status_code == 200
    assert restarted.stop(signal.SIGTERM) == 0


def test_serve_on_a_taken_port_fails_cleanly(workdir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--db",
                         f"sqlite:///{workdir / 'b.db'}", env=clean_env(), cwd=workdir)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_token_create_in_process(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_url = f"sqlite:///{workdir / 'b.db'}"
    assert main(["token", "create", "--scope", "read", "--db", db_url]) == 0
    out, err = capsys.readouterr()
    token = out.splitlines()[-1]
    assert token.startswith("wbo_") and "shown once" in err and token not in err
    assert main(["token", "create", "--scope", "read", "--db", db_url,
                 "--merchant", "nobody"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "no merchant 'nobody'" in err


def test_serve_refuses_a_database_it_cannot_use(workdir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    foreign = workdir / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    assert main(["serve", "--db", f"sqlite:///{foreign}"]) == 1
    assert "not a webhooks backoffice database" in capsys.readouterr().err
    assert main(["token", "create", "--scope", "read", "--db", "not a url"]) == 1
    assert "database URL is not valid" in capsys.readouterr().err
    assert main(["token", "create", "--scope", "read", "--db", "nonsense://"]) == 1
    assert "cannot use database nonsense://" in capsys.readouterr().err

"""PostgreSQL itself: the URL and its password, the pool options, busy errors as 503, and
`serve` and `token create` on a PostgreSQL database."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from backoffice import Backoffice
from backoffice.db import engine, postgres
from backoffice.errors import SetupError, Unavailable
from backoffice.http.api import create_app
from reconciler.cli import main
from reconciler.commands.database import database_url
from reconciler.errors import ReconcilerError
from tests.support import postgres as pg_support
from tests.support.backoffice import url_webhook
from tests.support.env import clean_env
from tests.support.processes import Processes
from tests.support.serve import Server

PASSWORD = "s3cr3t-pg-password"


def test_a_password_typed_in_db_is_refused_naming_the_alternatives(
        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql+psycopg://webhooks:{PASSWORD}@127.0.0.1:1/webhooks"
    for argv in (["token", "create", "--scope", "read", "--db", url],
                 ["serve", "--db", url]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "WEBHOOKS_DB_URL, PGPASSWORD or --db-password-file" in err
        assert PASSWORD not in err


def test_the_password_comes_from_a_file_once(tmp_path: Path) -> None:
    secret = tmp_path / "pg.pass"
    secret.write_text(PASSWORD + "\n")
    url = "postgresql+psycopg://webhooks@127.0.0.1:5432/webhooks"
    made = make_url(database_url(url, from_command_line=True, password_file=secret,
                                 pool_size=4, env={}))
    assert made.password == PASSWORD and made.query["pool_size"] == "4"
    with pytest.raises(ReconcilerError, match="given twice"):
        database_url(url, from_command_line=True, password_file=secret,
                     env={"PGPASSWORD": "x"})
    with pytest.raises(ReconcilerError, match="is for a PostgreSQL database"):
        database_url("sqlite:///x.db", from_command_line=True, password_file=secret, env={})
    # From the environment (WEBHOOKS_DB_URL), a password in the URL is fine.
    with_password = url.replace("webhooks@", f"webhooks:{PASSWORD}@")
    assert make_url(database_url(with_password, from_command_line=False,
                                 env={})).password == PASSWORD


def test_pool_options_come_from_the_url() -> None:
    url, options = postgres.engine_options(
        make_url("postgresql://u@h/db?pool_size=3&max_overflow=0&sslmode=disable"))
    assert url.drivername == "postgresql+psycopg" and dict(url.query) == {"sslmode": "disable"}
    assert options["pool_size"] == 3 and options["max_overflow"] == 0
    assert postgres.engine_options(make_url("postgresql://u@h/db"), 7)[1]["pool_size"] == 7
    with pytest.raises(SetupError, match="pool_size must be a whole number"):
        postgres.engine_options(make_url("postgresql://u@h/db?pool_size=none"))
    with pytest.raises(SetupError, match="not supported"):
        postgres.engine_options(make_url("postgresql+asyncpg://u@h/db"))


@pytest.mark.parametrize(("sqlstate", "busy"), [
    ("40001", True), ("40P01", True), ("55P03", True), ("57P01", True), ("08006", True),
    ("08001", True), ("53300", True), ("23505", False), ("42P01", False), ("22001", False),
])
def test_which_postgresql_errors_are_busy(sqlstate: str, busy: bool) -> None:
    orig = SimpleNamespace(sqlstate=sqlstate)
    error = OperationalError("statement", {}, orig)  # type: ignore[arg-type]
    assert engine._is_busy(error, "postgresql") is busy
    lost = OperationalError("statement", {}, psycopg.OperationalError("server closed"))
    assert engine._is_busy(lost, "postgresql")


@pytest.mark.anyio
async def test_a_lock_held_too_long_is_503_with_retry_after(
        postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "LOCK_TIMEOUT_MS", 100)
    with Backoffice.open(postgres_url, data_dir=tmp_path) as office:
        created = office.webhooks.create_webhook("demo", url_webhook())
        token = office.tokens.create_token("demo", "manage")
        dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(dsn) as blocker:  # another process holds the webhook's row
            blocker.execute("SELECT 1 FROM webhooks WHERE id = %s FOR UPDATE",
                            (created["id"],))
            with pytest.raises(Unavailable, match="database is busy"):
                office.webhooks.update_webhook("demo", created["id"], {"enabled": False})
            transport = httpx.ASGITransport(app=create_app(office))
            async with httpx.AsyncClient(transport=transport, base_url="http://bo.test") as client:
                response = await client.patch(
                    f"/v1/webhooks/{created['id']}", json={"enabled": False},
                    headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
        assert office.webhooks.update_webhook("demo", created["id"],
                                              {"enabled": False})["version"] == 2


def test_a_server_that_is_not_there_is_a_clear_setup_error(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="cannot use database postgresql"):
        Backoffice.open("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
                        data_dir=tmp_path)


@pytest.mark.slow
def test_token_create_and_serve_on_postgresql(
        postgres_url: str, tmp_path: Path, processes: Processes,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_DB_URL", postgres_url)
    monkeypatch.setenv("WEBHOOKS_DATA_DIR", str(tmp_path))
    assert main(["token", "create", "--scope", "manage"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    env = clean_env(WEBHOOKS_DB_URL=postgres_url, WEBHOOKS_DATA_DIR=str(tmp_path))
    server = Server(processes, postgres_url, tmp_path, env=env, args=["--db-pool-size", "3"])
    answer = httpx.post(f"{server.base}/v1/webhooks", json=url_webhook(), timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    assert server.stop() == 0


@pytest.mark.parametrize(("ci", "outcome"), [
    (None, pytest.skip.Exception), ("false", pytest.skip.Exception), ("0", pytest.skip.Exception),
    ("true", pytest.fail.Exception), ("1", pytest.fail.Exception),
])
def test_a_missing_postgresql_skips_but_fails_under_ci(
        monkeypatch: pytest.MonkeyPatch, ci: str | None, outcome: type[BaseException]) -> None:
    if ci is not None:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(pg_support, "find_program", lambda name: None)
    with pytest.raises(outcome, match="initdb, pg_ctl, postgres not found"):
        pg_support.start_cluster()

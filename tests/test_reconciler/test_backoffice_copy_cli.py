"""`webhooks backoffice copy`: the command's output and refusals, where the passwords come
from, and a `webhooks serve` on a copy that answers and delivers like the original."""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.commands.backoffice_copy import FROM_ENV, TO_ENV, Side, resolve
from reconciler.errors import ReconcilerError
from tests.support.cli import Run
from tests.support.copies import URL_PASSWORD, fill, snapshot
from tests.support.env import clean_env
from tests.support.postgres import Cluster
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, remote

DB_PASSWORD = "Db-copy-9f2e71c4"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def source(tmp_path: Path, receiver: Receiver) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "old" / "backoffice.db"
    return path, fill(f"sqlite:///{path}", receiver)


def test_copy_prints_every_table_with_its_rows(run: Run, source: tuple[Path, dict[str, str]],
                                               tmp_path: Path) -> None:
    path, _ = source
    target = tmp_path / "new" / "backoffice.db"
    code, out, err = run("backoffice", "copy", "--from", f"sqlite:///{path}",
                         "--to", f"sqlite:///{target}")
    assert code == 0, err
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if line.startswith("  ")}
    assert counts == {name: len(rows) for name, rows in snapshot(f"sqlite:///{path}").items()}
    assert "every table's row count matches" in out
    assert "server key" in err
    assert snapshot(f"sqlite:///{target}") == snapshot(f"sqlite:///{path}")


def test_the_urls_may_come_from_the_environment(run: Run, source: tuple[Path, dict[str, str]],
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = source
    monkeypatch.setenv(FROM_ENV, f"sqlite:///{path}")
    monkeypatch.setenv(TO_ENV, f"sqlite:///{tmp_path / 'env' / 'copy.db'}")
    code, _, err = run("backoffice", "copy")
    assert code == 0, err
    assert (tmp_path / "env" / "copy.db").exists()


@pytest.mark.parametrize("flag", ["--from", "--to"])
def test_a_password_on_the_command_line_is_refused(run: Run, flag: str,
                                                   tmp_path: Path) -> None:
    url = f"postgresql+psycopg://webhooks:{DB_PASSWORD}@127.0.0.1:1/webhooks"
    other = "--to" if flag == "--from" else "--from"
    code, out, err = run("backoffice", "copy", flag, url, other, f"sqlite:///{tmp_path}/x.db")
    assert code == 1
    assert f"{flag}: the URL has a password" in err
    assert "Traceback" not in err
    assert DB_PASSWORD not in out + err
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--to", "sqlite:///{tmp}/a.db"], "--from: give the database URL"),
    (["--from", "sqlite:///{tmp}/a.db", "--to", "nonsense"], "--to: the database URL is not"),
    (["--from", "sqlite://", "--to", "sqlite:///{tmp}/b.db"], "in-memory"),
])
def test_bad_input_is_one_line_naming_the_option(run: Run, tmp_path: Path, args: list[str],
                                                 words: str) -> None:
    code, _, err = run("backoffice", "copy", *(a.format(tmp=tmp_path) for a in args))
    assert code == 1
    assert words in err
    assert "Traceback" not in err
    assert not (tmp_path / "b.db").exists()  # a refused copy leaves no new file behind


def test_a_refused_copy_names_the_reason(run: Run, source: tuple[Path, dict[str, str]],
                                         tmp_path: Path) -> None:
    path, _ = source
    code, _, err = run("backoffice", "copy", "--from", f"sqlite:///{path}",
                       "--to", f"sqlite:///{path}")
    assert (code, err.count("\n")) == (1, 1)
    assert "cannot copy: the source and the target are the same database" in err


def test_a_file_that_is_not_a_database_is_one_line(run: Run, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, " * 100)
    code, _, err = run("backoffice", "copy", "--from", f"sqlite:///{junk}",
                       "--to", f"sqlite:///{tmp_path / 'new.db'}")
    assert code == 1
    assert err.startswith("Error: cannot copy: the database refused: file is not a database")
    assert "Traceback" not in err and "SELECT" not in err
    assert not (tmp_path / "new.db").exists()


def test_passwords_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    with_password = f"postgresql+psycopg://webhooks:{DB_PASSWORD}@db.internal/webhooks"
    bare = "postgresql+psycopg://webhooks@db.internal/webhooks"
    # The whole URL in the environment: accepted as it is.
    url = resolve(Side("--to", TO_ENV, None, None), {TO_ENV: with_password})
    assert url.password == DB_PASSWORD
    # The password alone in a file (its line end dropped).
    file = tmp_path / "db-password"
    file.write_text(DB_PASSWORD + "\n")
    url = resolve(Side("--to", TO_ENV, bare, file), {})
    assert (url.password, url.host) == (DB_PASSWORD, "db.internal")
    refusals = [
        (Side("--to", TO_ENV, None, file), {TO_ENV: with_password}, "has a password already"),
        (Side("--to", TO_ENV, bare, None), {TO_ENV: bare}, "given twice"),
        (Side("--from", FROM_ENV, bare, tmp_path / "missing"), {}, "--from-password-file"),
    ]
    for side, env, words in refusals:
        with pytest.raises(ReconcilerError, match=words) as caught:
            resolve(side, env)
        assert DB_PASSWORD not in str(caught.value)


@pytest.mark.slow
def test_a_server_on_the_copy_answers_and_delivers(
        run: Run, source: tuple[Path, dict[str, str]], receiver: Receiver, tmp_path: Path,
        processes: Processes) -> None:
    path, seeded = source
    target = tmp_path / "new" / "backoffice.db"
    code, _, err = run("backoffice", "copy", "--from", f"sqlite:///{path}",
                       "--to", f"sqlite:///{target}")
    assert code == 0, err
    # The same server key beside the copy (as the docs say to do).
    shutil.copy2(path.parent / "server.key", target.parent / "server.key")
    original = Server(processes, path, tmp_path, args=["--allow-private-targets"])
    expected = remote(original.base, seeded["manage"])
    original.stop()
    server = Server(processes, target, tmp_path, env=clean_env(),
                    args=["--allow-private-targets", "--worker-interval", "0.1"])
    assert remote(server.base, seeded["manage"]) == expected
    before = len(receiver.received)
    emitted = httpx.post(server.base + "/v1/notifications",
                         json={"terminal": "10001", "type": "mbway"},
                         headers={"Authorization": f"Bearer {seeded['manage']}"}, timeout=10)
    assert emitted.status_code == 201, emitted.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(receiver.received) < before + 2:
        time.sleep(0.05)
    fresh = receiver.received[before:]
    assert {r.path for r in fresh} == {"/orders", "/creds"}
    # Both opened with the secret (the receiver decrypts with it) ...
    assert all(r.notification is not None for r in fresh), [r.problem for r in fresh]
    # ... and the URL's credentials were unsealed and sent.
    (creds,) = [r for r in fresh if r.path == "/creds"]
    pair = base64.b64decode(creds.headers["authorization"].removeprefix("Basic ")).decode()
    assert pair == f"shop:{URL_PASSWORD}"


@pytest.mark.slow
def test_a_server_on_a_postgresql_copy_lists_the_same_webhooks_and_delivers(
        run: Run, source: tuple[Path, dict[str, str]], receiver: Receiver, tmp_path: Path,
        processes: Processes, request: pytest.FixtureRequest) -> None:
    """The migration path from SQLite: stop the server, copy into a new, empty PostgreSQL
    database (the password in a file, never on the command line), serve the copy with the
    same server key given in WEBHOOKS_SERVER_KEY."""
    path, seeded = source
    original = Server(processes, path, tmp_path, args=["--allow-private-targets"])
    expected = remote(original.base, seeded["manage"])
    assert original.stop() == 0
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    target = cluster.create_database(empty=True)
    request.addfinalizer(lambda: cluster.drop_database(target))
    password_file = tmp_path / "db-password"
    password_file.write_text(DB_PASSWORD + "\n")  # the cluster trusts loopback: any will do
    code, out, err = run("backoffice", "copy", "--from", f"sqlite:///{path}", "--to", target,
                         "--to-password-file", str(password_file))
    assert code == 0, err
    assert DB_PASSWORD not in out + err
    assert snapshot(target) == snapshot(f"sqlite:///{path}")
    key = (path.parent / "server.key").read_text().strip()
    server = Server(processes, target, tmp_path, env=clean_env(WEBHOOKS_SERVER_KEY=key),
                    args=["--allow-private-targets", "--worker-interval", "0.1"])
    assert remote(server.base, seeded["manage"]) == expected
    headers = {"Authorization": f"Bearer {seeded['manage']}"}
    # A webhook created on the copy takes the next serial key (the sequences continued).
    created = httpx.post(server.base + "/v1/webhooks", headers=headers, timeout=10, json={
        "name": "after-copy", "type": "url", "url": receiver.url("/after"),
        "application": "merchant", "notifications": ["mbway"], "format": "sibs",
        "secret": SIBS_SECRET})
    assert created.status_code == 201, created.text
    before = len(receiver.received)
    emitted = httpx.post(server.base + "/v1/notifications",
                         json={"terminal": "10001", "type": "mbway"}, headers=headers,
                         timeout=10)
    assert emitted.status_code == 201, emitted.text
    nid = emitted.json()["notification"]["notificationID"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(receiver.received) < before + 3:
        time.sleep(0.05)
    fresh = receiver.received[before:]
    assert sorted(r.path for r in fresh) == ["/after", "/creds", "/orders"]
    assert all(r.nid == nid for r in fresh), [r.problem for r in fresh]
    (creds,) = [r for r in fresh if r.path == "/creds"]
    pair = base64.b64decode(creds.headers["authorization"].removeprefix("Basic ")).decode()
    assert pair == f"shop:{URL_PASSWORD}"
    assert server.stop() == 0

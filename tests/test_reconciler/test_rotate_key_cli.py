"""`webhooks backoffice rotate-key` as a process, beside `webhooks serve` on loopback: the
server keeps delivering, an interrupted run (Ctrl-C) is finished by the next one, no key
is ever printed, and bad input is a one-line error."""

from __future__ import annotations

import base64
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from backoffice import Backoffice
from backoffice.crypto import KEY_FILE_NAME, read_key_file
from tests.support.backoffice import url_webhook
from tests.support.env import clean_env
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, cli_argv, run_cli

QUERY_TOKEN = "tok-cli-7d1e0b94c3"


def keys_of(data: Path) -> list[bytes]:
    return read_key_file(data / KEY_FILE_NAME)[0]


def key_texts(keys: list[bytes]) -> list[str]:
    """Every spelling of the keys that output must never hold."""
    return [form for key in keys for form in (base64.b64encode(key).decode(), key.hex())]


def test_rotate_key_beside_a_running_server(tmp_path: Path, processes: Processes) -> None:
    data = tmp_path / "data"
    db_url = f"sqlite:///{data / 'bo.db'}"
    receiver = Receiver(reject_unopened=True)
    try:
        # The receiver is on loopback: a private target, as the server allows too.
        with Backoffice.open(db_url, allow_private_targets=True) as office:
            hook = office.webhooks.create_webhook("demo", url_webhook(
                "q", url=receiver.url(f"/q?token={QUERY_TOKEN}"), secret=SIBS_SECRET))
            token = office.tokens.create_token("demo", "manage")
        old = keys_of(data)
        server = Server(processes, data / "bo.db", tmp_path, args=["--allow-private-targets"])

        def fire() -> None:
            with httpx.Client(base_url=server.base, timeout=30,
                              headers={"Authorization": f"Bearer {token}"}) as http:
                answer = http.post(f"/v1/webhooks/{hook['id']}/test", json={})
            assert answer.status_code == 200 and answer.json()["delivered"], answer.text
            assert receiver.received[-1].path == f"/q?token={QUERY_TOKEN}"

        fire()
        # Ctrl-C while it waits out the grace: the new key is in the file, not used up.
        argv = cli_argv("backoffice", "rotate-key", "--db", db_url, "--grace", "30")
        first = processes.popen(argv, env=clean_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while len(keys_of(data)) == 1:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=30)
        assert first.returncode == 130, out + err
        assert "Traceback" not in err and len(keys_of(data)) == 2
        fire()  # the server seals and opens with the ring of two keys
        done = run_cli("backoffice", "rotate-key", "--db", db_url, "--grace", "0.3",
                       env=clean_env(), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Finished a rotation that had been interrupted." in done.stderr
        assert "webhooks.secret_sealed" in done.stdout and "Back up the new server.key" in (
            done.stderr)
        new = keys_of(data)
        assert len(new) == 1 and new[0] not in old
        fire()
        for text in (out, err, done.stdout, done.stderr, server.log_text()):
            for secret in [*key_texts(old + new), SIBS_SECRET, QUERY_TOKEN]:
                assert secret not in text
        assert server.stop() == 0
    finally:
        receiver.close()


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--db", "sqlite:///{dir}/missing.db"], {}, "no backoffice database at"),
    (["--db", "postgresql+psycopg://u:hunter2@127.0.0.1:9/x"], {},
     "the URL holds a password"),
    (["--db", "sqlite:///{dir}/data/bo.db"], {"WEBHOOKS_SERVER_KEY": "KEY"},
     "it comes from WEBHOOKS_SERVER_KEY, not a key file"),
])
def test_rotate_key_refusals(tmp_path: Path, args: list[str], env: dict[str, str],
                             message: str) -> None:
    with Backoffice.open(f"sqlite:///{tmp_path / 'data' / 'bo.db'}"):
        pass
    key = (tmp_path / "data" / KEY_FILE_NAME).read_text().strip()
    env = {k: (key if v == "KEY" else v) for k, v in env.items()}
    result = run_cli("backoffice", "rotate-key", *[a.replace("{dir}", str(tmp_path))
                                                   for a in args],
                     env=clean_env(**env), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert "hunter2" not in result.stdout + result.stderr and key not in result.stderr
    assert (tmp_path / "data" / KEY_FILE_NAME).read_text().strip() == key  # untouched


@pytest.mark.parametrize("content", [b"not base64\n", b"", "é\n".encode(), b"\xff\xfe\n",
                                     b"QUJD\n", b"\x00" * 40])
def test_a_broken_key_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    with Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}"):
        pass
    key_file = tmp_path / KEY_FILE_NAME
    key = key_file.read_bytes()
    key_file.write_bytes(key + content)  # a second line that is no key
    result = run_cli("backoffice", "rotate-key", "--db", f"sqlite:///{tmp_path / 'bo.db'}",
                     env=clean_env(), cwd=tmp_path)
    if content.strip(b"\n"):
        assert result.returncode == 1 and "must hold the standard base64" in result.stderr
        assert "(key 2)" in result.stderr and key.decode().strip() not in result.stderr
    else:  # nothing but a blank line: still one key
        assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("grace", ["-1", "nan", "1e9", "soon"])
def test_a_bad_grace_is_a_usage_error(tmp_path: Path, grace: str) -> None:
    result = run_cli("backoffice", "rotate-key", "--grace", grace, env=clean_env(),
                     cwd=tmp_path)
    assert result.returncode == 2 and "--grace" in result.stderr

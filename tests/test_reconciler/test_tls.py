"""TLS end to end: `webhooks serve --tls-cert --tls-key` on a free loopback port with a
certificate a private CA made in the test, and the CLI trusting that CA through
SSL_CERT_FILE (and refusing the server, clearly, without it). Online `validate` reads the
server's policy on private targets from the same server.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from reconciler.cli import main
from tests.support.env import clean_env
from tests.support.processes import Processes, free_port
from tests.support.serve import seed
from tests.support.tls import TlsFiles, make_tls_files


@dataclass(frozen=True)
class TlsServer:
    port: int
    tls: TlsFiles
    read_token: str
    log: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def _wait_https(process: subprocess.Popen[bytes], url: str, ca: Path, log: Path) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", verify=context, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"serve did not answer over https:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           module_processes: Processes) -> Iterator[TlsServer]:
    work = tmp_path_factory.mktemp("tls")
    tls = make_tls_files(work)
    db = work / "backoffice.db"
    _, read = seed(db)
    port = free_port()
    log = work / "serve.log"
    with log.open("wb") as out:
        process = module_processes.popen(
            [sys.executable, "-m", "reconciler", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--db", f"sqlite:///{db}", "--tls-cert", str(tls.cert),
             "--tls-key", str(tls.key)], env=clean_env(), cwd=work, stdout=out,
            stderr=subprocess.STDOUT)
    _wait_https(process, f"https://127.0.0.1:{port}", tls.ca, log)
    yield TlsServer(port, tls, read, log)
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "webhooks.yaml").write_text(
        "version: 1\nowner: tls-team\nwebhooks:\n  local:\n    type: url\n"
        "    url: http://127.0.0.1:9999/hooks\n    application: merchant\n"
        "    notifications: [mbway]\n")
    return tmp_path


def _cli(*args: str) -> int:
    return main(["--no-color", *args])


def test_the_cli_trusts_a_private_ca_through_ssl_cert_file(
        server: TlsServer, workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", server.read_token)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.tls.ca))
    for url in (server.url, f"https://localhost:{server.port}"):
        monkeypatch.setenv("WEBHOOKS_API_URL", url)
        assert _cli("list", "--format", "json") == 0, capsys.readouterr().err
        assert capsys.readouterr().out.strip() == "[]"
    assert "listening on https://127.0.0.1:" in server.log.read_text()
    assert not (workdir / "cache").exists()


@pytest.mark.parametrize("ca", ["none", "another CA"])
def test_without_its_ca_the_server_is_refused_with_a_clear_certificate_error(
        server: TlsServer, workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], ca: str) -> None:
    monkeypatch.setenv("WEBHOOKS_API_URL", server.url)
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", server.read_token)
    if ca == "another CA":
        (workdir / "other").mkdir()
        monkeypatch.setenv("SSL_CERT_FILE", str(make_tls_files(workdir / "other").ca))
    started = time.monotonic()
    assert _cli("list") == 1
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert err.startswith(f"Error: cannot reach the backoffice at {server.url}: its TLS "
                          "certificate is not trusted (")
    assert "set SSL_CERT_FILE to that CA's certificate" in err
    assert server.read_token not in err
    assert not (workdir / "cache").exists()  # exit 1, not a bug: no crash log
    assert took < 7.5  # a certificate problem is not retried (four retries take longer)


def test_an_unreadable_ssl_cert_file_is_named(
        server: TlsServer, workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_API_URL", server.url)
    for value, said in ((workdir / "missing.pem", "cannot be read: No such file"),
                        (workdir / "webhooks.yaml", "holds no usable certificate")):
        monkeypatch.setenv("SSL_CERT_FILE", str(value))
        assert _cli("list") == 1
        err = capsys.readouterr().err
        assert err.startswith(f"Error: SSL_CERT_FILE ({value}) ") and said in err, err
    assert not (workdir / "cache").exists()


def test_online_validate_reports_private_urls_from_the_servers_policy(
        server: TlsServer, workdir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = str(workdir / "webhooks.yaml")
    monkeypatch.setenv("WEBHOOKS_API_URL", server.url)
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", server.read_token)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.tls.ca))
    # This server refuses private targets (no --allow-private-targets): an error.
    assert _cli("validate", "-f", config) == 1
    out = capsys.readouterr().out
    assert ("webhooks.yaml:6:10: webhooks.local.url: must point at a public address: "
            "127.0.0.1 is loopback (this backoffice refuses private targets: SSRF guard)") in out
    # Offline, no policy is known: a warning, and the file is valid.
    assert _cli("validate", "--offline", "-f", config) == 0
    out = capsys.readouterr().out
    assert "6:10: warning: webhooks.local.url: 127.0.0.1 is loopback: a backoffice that " in out
    assert "valid (1 webhook, 1 warning)" in out
    # The embedded backoffice allows private targets (a receiver on this machine).
    monkeypatch.delenv("WEBHOOKS_API_URL")
    monkeypatch.delenv("WEBHOOKS_API_TOKEN")  # a token without a URL names no backoffice
    assert _cli("validate", "-f", config) == 0
    out = capsys.readouterr().out
    assert "warning" not in out and "valid (1 webhook)" in out


@pytest.mark.parametrize("tls", [False, True], ids=["plain http", "https"])
def test_serve_warns_when_it_listens_beyond_loopback_without_tls(tmp_path: Path,
                                                                 tls: bool) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface of this machine: the bind fails after the
    # warning, so nothing ever listens beyond loopback here.
    files = make_tls_files(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "serve", "--host", "192.0.2.1", "--port",
         str(free_port()), "--db", f"sqlite:///{tmp_path / 'backoffice.db'}",
         *(["--tls-cert", str(files.cert), "--tls-key", str(files.key)] if tls else [])],
        env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60,
        check=False)
    assert done.returncode == 1, done.stderr  # the bind failed, and said so
    warned = ("serving plain http on 192.0.2.1, which is not loopback: API tokens and "
              "webhook secrets cross the network in clear") in done.stderr
    assert warned is not tls, done.stderr

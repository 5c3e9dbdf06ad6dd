"""What a new user trips over first, each tried as they would: SQLite URLs, the README's
team snippet, --api-url's place, an unset token, --help, a taken port, typos in names,
YAML indentation, duplicated blocks, the schema's hints, stale-plan messages, e-mail
subjects."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backoffice.delivery.mail import notification_email
from backoffice.facade import Backoffice
from backoffice.http.api import create_app
from contract.catalogue import NOTIFICATION_TYPES, NOTIFICATIONS
from contract.urls import url_problem
from reconciler.config import read_config, schema
from reconciler.errors import AuthenticationError
from reconciler.providers.http import HttpProvider
from tests.support.cli import Run
from tests.support.config import REPO, write
from tests.support.env import clean_env
from tests.support.processes import free_port

BIN = Path(sys.executable).parent


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


# --- SQLite URLs, the team snippet, serve --------------------------------------------------

RELATIVE_SQLITE = re.compile(r"sqlite:///[A-Za-z]")


def test_docs_and_help_give_absolute_sqlite_urls(run: Run) -> None:
    docs = [REPO / "README.md", REPO / "backoffice" / "README.md",
            *(REPO / "docs").glob("*.md"), *(REPO / "examples").rglob("*.*")]
    helps = [run(*cmd, "--help")[1] for cmd in (("serve",), ("token", "create"),
                                                ("backoffice", "copy"))]
    texts = [(str(p), p.read_text(encoding="utf-8")) for p in docs if p.is_file()]
    texts += [(f"help {i}", text) for i, text in enumerate(helps)]
    for where, text in texts:
        for line in text.splitlines():
            if RELATIVE_SQLITE.search(line):
                assert "relative" in line, f"{where}: {line}"  # only where it warns
    assert "sqlite:////var/lib/webhooks/backoffice.db" in helps[0]


def test_serve_and_token_create_name_the_database_file(tmp_path: Path, processes) -> None:
    env = clean_env()
    created = subprocess.run([str(BIN / "webhooks"), "token", "create", "--scope", "read",
                              "--db", "sqlite:///relative.db"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert created.returncode == 0, created.stderr
    assert f"(file {tmp_path / 'relative.db'})" in created.stderr
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = processes.popen([str(BIN / "webhooks"), "serve", "--port", str(port), "--db",
                                  "sqlite:///relative.db"], cwd=tmp_path, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if f"file {tmp_path / 'relative.db'}" in log.read_text():
                break
            assert server.poll() is None, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        assert f"database sqlite:///relative.db (file {tmp_path / 'relative.db'}), 1 API " \
               "token(s)" in text
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_the_readme_team_snippet_runs_in_order(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    after = readme.split("For a team, run the backoffice as a server", 1)[1]
    snippet = after.split("```sh\n", 1)[1].split("```", 1)[0]
    first = snippet.splitlines()
    assert first[0].startswith("export WEBHOOKS_DB_URL=sqlite:////")
    assert any(line.startswith("webhooks serve") and "&" in line for line in first)
    serve_at = next(i for i, line in enumerate(first) if line.startswith("webhooks serve"))
    assert all(not line.startswith("export") or i != serve_at for i, line in enumerate(first))
    port = free_port()
    work = tmp_path / "team"
    shutil.copytree(REPO / "dev", work / "dev")
    shutil.copy(REPO / "webhooks.yaml", work / "webhooks.yaml")
    script = (snippet.replace("/var/lib/webhooks", str(tmp_path / "var"))
              .replace("8080", str(port)))
    env = clean_env(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    shell = subprocess.Popen(["sh", "-eu", "-c", script + 'kill "$!"\nwait "$!" || true\n'],
                             cwd=work, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = shell.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
    assert shell.returncode == 0, err
    assert "Plan: 5 to create" in out
    assert (tmp_path / "var" / "backoffice.db").is_file()


def test_serve_on_a_taken_port_is_a_clean_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([str(BIN / "webhooks"), "serve", "--port", str(port), "--db",
                                 f"sqlite:///{tmp_path / 'bo.db'}"], env=clean_env(),
                                capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr == (f"Error: cannot listen on 127.0.0.1:{port}: Address already in "
                             "use\n")
    assert not (tmp_path / "bo.db").exists()  # nothing opened before the port was had


# --- the command line ------------------------------------------------------------------------


def test_api_url_is_taken_after_the_command_too(run: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path, "version: 1\nowner: t\nwebhooks: {}\n")
    closed = f"http://127.0.0.1:{free_port()}"
    for args in (("--api-url", closed, "plan", "-f", str(cfg)),
                 ("plan", "-f", str(cfg), "--api-url", closed),
                 ("list", "--api-url", closed, "-f", str(cfg))):
        code, _, err = run(*args)
        assert code == 1 and f"cannot reach the backoffice at {closed}" in err, args
    assert not (tmp_path / ".webhooks").exists()  # the embedded backoffice was not used


@pytest.mark.anyio
async def test_an_unset_token_says_it_is_not_set(tmp_path: Path) -> None:
    with Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}") as office:
        transport = httpx.ASGITransport(app=create_app(office))
        for token, message in ((None, "WEBHOOKS_API_TOKEN is not set"),
                               ("wbo_wrong", "rejected the API token (401")):
            provider = HttpProvider("http://backoffice.test", token, transport=transport)
            with pytest.raises(AuthenticationError, match=re.escape(message)) as failed:
                await provider.fetch()
            await provider.aclose()
            assert "wbo_wrong" not in str(failed.value)


def test_root_help_gives_every_summary_whole(run: Run) -> None:
    from reconciler.cli import cli

    code, out, _ = run("--help")
    commands = out.split("\nCommands:\n", 1)[1]
    assert code == 0 and "..." not in commands
    flat = " ".join(commands.split())
    for name, command in cli.commands.items():
        summary = command.get_short_help_str(limit=1000)
        assert summary.endswith((".", ")")) and f"{name} {summary}" in flat


def test_the_file_option_shows_its_default_once(run: Run) -> None:
    for command in ("plan", "apply", "validate", "list"):
        _, out, _ = run(command, "--help")
        option = " ".join(out.split("-f, --file", 1)[1].split("\n  -", 1)[0].split())
        assert option.count("webhooks.yaml") == 1, (command, option)


def test_names_on_the_command_line_get_a_did_you_mean(run: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path, "version: 1\nowner: payments-team\nwebhooks:\n  orders:\n"
                "    type: email\n    email: o@shop.example\n    application: merchant\n"
                "    notifications: [mbway]\n")
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    code, _, err = run("emit", "-f", str(cfg), "--terminal", "10001", "--type", "mb-way")
    assert code == 1 and "unknown notification type 'mb-way'; did you mean 'mbway'?" in err
    code, _, err = run("list", "-f", str(cfg), "--notification", "authorized-payment")
    assert code == 1 and "did you mean 'authorised-payment'?" in err
    code, _, err = run("list", "-f", str(cfg), "--owner", "payments-taem")
    assert code == 1 and "did you mean 'payments-team'?" in err
    assert "(owners here: payments-team)" in err
    code, out, err = run("list", "-f", str(cfg), "--owner", "kiosk")  # far from any: a note
    assert code == 0 and "No webhooks." in out and "no webhook is managed by owner 'kiosk'" in err
    code, _, err = run("emit", "-f", str(cfg), "--terminal", "10001", "--type", "x\u202e\x1b[2J")
    assert code == 1 and "\u202e" not in err and "\x1b" not in err


# --- reading a config ------------------------------------------------------------------------

OVER_INDENTED = """\
    version: 1
    owner: t
    webhooks:
      orders:
        type: url
         url: https://hook-user:Pw-line-9a@x.example/a
        notifications: [mbway]
    """


def test_an_indentation_error_gets_a_hint_and_its_line(tmp_path: Path) -> None:
    report = read_config(write(tmp_path, OVER_INDENTED), secrets="optional")
    [problem] = report.problems
    assert (problem.line, problem.col) == (6, 9)
    assert problem.message == (
        "YAML syntax error: mapping values are not allowed in this context; check the "
        "indentation: the keys of one mapping start in the same column, and a nested mapping "
        "is indented further. Line 6: '     url: https://hook-user:***@x.example/a'")
    secret = OVER_INDENTED.replace("url: https://hook-user:Pw-line-9a@x.example/a",
                                   "secret: AAECAwQFBgcICQoL")
    [problem] = read_config(write(tmp_path, secret), secrets="optional").problems
    assert problem.message.endswith("Line 6: '     secret: (hidden)'")
    assert "AAECAwQF" not in problem.message


def test_a_file_that_is_not_yaml_is_never_echoed(tmp_path: Path) -> None:
    key = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU: x\n"
           "  Zm9vYmFy: y\n-----END OPENSSH PRIVATE KEY-----\n")
    [problem] = read_config(write(tmp_path, key), secrets="optional").problems
    assert "b3BlbnNz" not in problem.message and "Zm9v" not in problem.message
    assert problem.line >= 1


def test_a_duplicate_key_inside_a_duplicated_block_is_reported(tmp_path: Path) -> None:
    cfg = write(tmp_path, """\
        version: 1
        owner: t
        webhooks:
          orders:
            type: email
            email: a@shop.example
            application: merchant
            notifications: [mbway]
          orders:
            type: email
            type: url
            notifications: [mbway]
        """)
    problems = [str(p) for p in read_config(cfg, secrets="optional").problems]
    assert problems == [
        f"{cfg}:9:3: webhooks.orders: duplicate key 'orders' (first at line 4)",
        f"{cfg}:11:5: webhooks.orders.type: duplicate key 'type' (first at line 10)",
    ]


# --- the schema carries what validate enforces ---------------------------------------------

URLS = ["https://api.shop.example/hooks", "HTTPS://API.example:8443/x?y=1",
        "http://127.0.0.1:9999/hooks", "http://localhost/x", "HTTP://LocalHost:80",
        "http://[::1]:8080/h", "http://user:pw@127.0.0.2/a", "http://127.255.0.1",
        "${env:ORDERS_URL}", "https://${env:HOST}/x", "http://${env:HOST}/x",
        "http://example.com/a", "ftp://x.example/", "/relative", "http://10.0.0.1/",
        "http://localhost.example/", "https://", "http://127.1/"]


@pytest.mark.parametrize("url", URLS)
def test_the_url_pattern_never_refuses_what_validate_accepts(url: str) -> None:
    pattern = re.compile(schema()["$defs"]["webhook"]["properties"]["url"]["pattern"])
    if url_problem(url) is None or "${" in url:
        assert pattern.search(url), url
    elif url.startswith(("http://example", "ftp", "/", "http://10.", "http://localhost.")):
        assert not pattern.search(url), url  # and refuses what it can tell


def test_the_schema_describes_types_and_addresses() -> None:
    defs = schema()["$defs"]
    items = defs["notifications"]["items"]
    assert len(items["enumDescriptions"]) == len(items["enum"]) == len(NOTIFICATION_TYPES)
    for code, text, entry in zip(items["enum"], items["enumDescriptions"], NOTIFICATIONS,
                                 strict=True):
        assert code == entry.code and entry.label in text and code in text
    assert defs["webhook"]["properties"]["email"]["format"] == "email"
    assert defs["support_email"]["format"] == "email"


# --- messages --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(NOTIFICATION_TYPES))
def test_the_email_subject_reads_well(code: str) -> None:
    for status, said in (("Success", "succeeded"), ("Declined", "declined"),
                         ("InProcessing", "in processing"), ("Timeout", "timed out")):
        message = notification_email(
            {"type": code, "paymentStatus": status, "amount": {"value": 12.5, "currency": "EUR"},
             "merchant": {"terminalId": "10001"}, "notificationID": "n1"},
            to="ops@shop.example", webhook_name="mail", merchant_name="Demo Shop")
        subject = message["Subject"]
        assert subject.endswith(f" {said}: 12.50 EUR (terminal 10001)"), subject
        assert "payment payment" not in subject.lower().replace(",", "")

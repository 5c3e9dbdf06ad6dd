"""`webhooks deliveries` (every webhook, filters, attempts, --follow), `resend`, `recover`,
`deliver` and `emit --wait` end to end: on the embedded default in-process and as
processes, and against `webhooks serve`; real receivers on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice.facade import Backoffice
from reconciler.commands import Globals
from reconciler.commands import deliveries as deliveries_command
from tests.support.cli import Run
from tests.support.env import clean_env
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, api_env, cli_argv, run_cli, seed, write_config

WAIT_LIMIT = 60.0  # how long a test waits for a process to show something (not a budget)


@pytest.fixture
def good() -> Iterator[Receiver]:
    server = Receiver(script=["ack"])
    yield server
    server.close()


@pytest.fixture
def bad() -> Iterator[Receiver]:
    server = Receiver(script=["big"])  # 200 with 100 KiB that is no acknowledgement
    yield server
    server.close()


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good: Receiver,
        bad: Receiver) -> Path:
    monkeypatch.setenv("SIBS_SECRET", SIBS_SECRET)
    hook = {"type": "url", "notifications": ["mbway"], "secret": "${env:SIBS_SECRET}"}
    return write_config(tmp_path / "webhooks.yaml", {
        "good-hook": {**hook, "url": good.url()},
        "bad-hook": {**hook, "url": bad.url(), "notifications": ["mbway", "xpay"]},
    })


def applied(run: Run, cfg: Path) -> str:
    code, out, err = run("apply", "-f", str(cfg), "--auto-approve")
    assert code == 0, out + err
    return str(cfg)


def emit_behind_the_back(cfg: Path, type: str = "mbway") -> str:
    """A pending, due delivery that nothing has attempted: emitted straight into the
    embedded backoffice's database."""
    data = cfg.parent / ".webhooks"
    office = Backoffice.open(f"sqlite:///{data / 'backoffice.db'}", data_dir=data)
    try:
        emitted = office.deliveries.emit_notification("demo", {"terminal": "10001",
                                                               "type": type})
    finally:
        office.close()
    return str(emitted["notification"]["notificationID"])


def log(run: Run, *args: str) -> list[dict[str, Any]]:
    code, out, err = run("deliveries", *args, "--format", "json")
    assert code == 0, err
    found: list[dict[str, Any]] = json.loads(out)
    return found


def test_reading_and_planning_never_deliver_on_the_embedded_backoffice(
        run: Run, cfg: Path, good: Receiver, bad: Receiver) -> None:
    f = applied(run, cfg)
    emit_behind_the_back(cfg, "xpay")  # only bad-hook takes xpay
    emit_behind_the_back(cfg)
    for args in (["validate", "-f", f], ["plan", "-f", f], ["plan", "-f", f, "--format", "json"],
                 ["list", "-f", f], ["list", "-f", f, "--format", "json"],
                 ["show", "good-hook", "-f", f], ["show", "bad-hook", "-f", f,
                                                  "--format", "json"]):
        code, out, err = run(*args)
        assert code == 0, (args, out, err)
    assert good.received == [] and bad.received == []

    code, out, _ = run("deliver", "-f", f, "--seconds", "30")
    assert code == 0 and out == "Attempted 3 due deliveries.\n"
    assert len(good.received) == 1 and len(bad.received) == 2
    code, out, _ = run("deliver", "-f", f)
    assert code == 0 and out == "Attempted 0 due deliveries.\n"  # the retry is not due yet


def test_the_log_spans_webhooks_with_every_attempt(run: Run, cfg: Path) -> None:
    f = applied(run, cfg)
    code, _, _ = run("emit", "-f", f, "--terminal", "10001", "--type", "mbway")
    assert code == 0
    code, out, _ = run("deliveries", "-f", f)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:5] == ["ID", "CREATED", "WEBHOOK", "TYPE", "STATUS"]
    rows = [line for line in lines[1:] if not line.startswith(" ")]
    assert sorted(r.split()[2] for r in rows) == ["bad-hook", "good-hook"]
    assert [r.split()[0] for r in rows] == [d["id"] for d in log(run, "-f", f)]
    attempts = [line.strip() for line in lines if line.startswith("    #")]
    assert len(attempts) == 2 and all(a.startswith("#1  ") for a in attempts)
    assert any("HTTP 200" in a and "delivered" in a for a in attempts)
    failed = next(a for a in attempts if "failed" in a)
    assert "answer: xxxx" in failed and failed.endswith("...")  # cut in the table

    [bad] = log(run, "bad-hook", "-f", f, "--status", "failed")
    [attempt] = bad["history"]
    assert attempt["outcome"] == "failed" and attempt["status_code"] == 200
    assert len(attempt["response_excerpt"]) > 100  # whole in JSON, as stored
    assert log(run, "good-hook", "-f", f, "--status", "failed") == []
    assert len(log(run, "-f", f, "--since", "1h")) == 2
    code, out, _ = run("deliveries", "-f", f, "--since", "2999-01-01T00:00:00Z")
    assert code == 0 and out == "No deliveries match.\n"
    code, _, err = run("deliveries", "-f", f, "--since", "last tuesday")
    assert code == 2 and "neither a moment" in err
    code, _, err = run("deliveries", "nope", "-f", f)
    assert code == 1 and "no webhook named 'nope'" in err


def test_resend_recover_and_deliver(run: Run, cfg: Path, bad: Receiver) -> None:
    f = applied(run, cfg)
    assert run("emit", "-f", f, "--terminal", "10001", "--type", "xpay")[0] == 0
    [failed] = log(run, "bad-hook", "-f", f)
    assert failed["status"] == "failed" and len(bad.received) == 1

    code, out, _ = run("resend", failed["id"], "-f", f)
    assert code == 0 and f"Resent {failed['id']} (xpay): pending, attempt 2 due now." in out
    assert len(bad.received) == 1  # resend schedules; it does not send
    code, out, _ = run("deliver", "-f", f)
    assert code == 0 and out == "Attempted 1 due delivery.\n" and len(bad.received) == 2
    [again] = log(run, "bad-hook", "-f", f)
    assert [a["number"] for a in again["history"]] == [1, 2]

    code, out, _ = run("recover", "bad-hook", "--since", "1h", "-f", f)
    assert code == 0 and out.startswith("Recovered 1 failed or given-up delivery of bad-hook")
    code, out, _ = run("recover", "good-hook", "--since", "1h", "-f", f, "--format", "json")
    assert code == 0 and json.loads(out)["recovered"] == 0
    code, out, _ = run("deliveries", "bad-hook", "-f", f)  # attempts what is due first
    assert code == 0 and len(bad.received) == 3 and "    #3  " in out
    code, _, err = run("resend", "dl_nope", "-f", f)
    assert code == 1 and "no delivery with id 'dl_nope'" in err
    code, _, err = run("recover", "bad-hook", "-f", f)
    assert code == 2 and "--since" in err


def test_emit_wait_prints_each_first_outcome(run: Run, cfg: Path) -> None:
    f = applied(run, cfg)
    code, out, _ = run("emit", "-f", f, "--terminal", "10001", "--type", "mbway", "--wait")
    assert code == 1  # bad-hook failed
    lines = out.splitlines()
    assert lines[0].startswith("Notification ")
    outcomes = {line.split()[0]: line.split()[1:4] for line in lines[1:3]}
    assert outcomes == {"good-hook": ["delivered,", "HTTP", "200"],
                        "bad-hook": ["failed,", "HTTP", "200:"]}
    code, out, _ = run("emit", "-f", f, "--terminal", "10001", "--type", "mbway", "--wait",
                       "--format", "json", "--wait-seconds", "20")
    result = json.loads(out)
    assert code == 1 and {d["webhook"]: d["status"] for d in result["deliveries"]} == {
        "good-hook": "delivered", "bad-hook": "failed"}
    assert all(len(d["history"]) == 1 for d in result["deliveries"])
    code, out, _ = run("emit", "-f", f, "--terminal", "10001", "--type", "mb-reference",
                       "--wait")
    assert code == 0 and "No webhook receives it" in out


def test_follow_stops_after_its_polls(cfg: Path, run: Run,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    f = applied(run, cfg)
    assert run("emit", "-f", f, "--terminal", "10001", "--type", "mbway")[0] == 0
    newest_first = [d["id"] for d in log(run, "-f", f)]
    globals_ = Globals(color=False, api_url=None)
    code = deliveries_command.run(globals_, cfg, None, status=None, since=None, limit=20,
                                  fmt="json", follow_log=True, interval=0.1, max_polls=2)
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [d["id"] for d in lines] == newest_first[::-1]  # oldest first
    assert sorted(d["status"] for d in lines) == ["delivered", "failed"]
    assert "Following the delivery log" in err and "Ctrl-C" in err


@pytest.mark.slow
def test_follow_prints_new_outcomes_until_ctrl_c(cfg: Path, run: Run, tmp_path: Path,
                                                  processes: Processes) -> None:
    f = applied(run, cfg)
    out, err = tmp_path / "follow.out", tmp_path / "follow.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        follower = processes.popen(cli_argv("deliveries", "--follow", "--interval", "0.2",
                                            "-f", f), env=clean_env(), cwd=tmp_path,
                                   stdout=stdout, stderr=stderr)
    wait_for(lambda: "Following" in err.read_text(), follower, err)
    nid = emit_behind_the_back(cfg, "xpay")  # the follower's next poll delivers it
    wait_for(lambda: "-> failed" in out.read_text(), follower, err)
    follower.send_signal(signal.SIGINT)
    assert follower.wait(timeout=WAIT_LIMIT) == 130
    printed = out.read_text()
    # The poll attempted it (embedded) before it looked: new, and its first attempt.
    assert printed.startswith("No deliveries yet.\n")
    new, attempt = printed.splitlines()[1:3]
    assert new.split()[1:] == ["bad-hook", new.split()[2], "xpay", "new,", "failed"]
    assert attempt.split()[1:4] == ["bad-hook", new.split()[2], "xpay"]
    assert "#1" in attempt and attempt.endswith("-> failed")
    assert nid not in err.read_text() and "Interrupted." in err.read_text()


def wait_for(condition: Any, process: subprocess.Popen[bytes], err: Path) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        assert process.poll() is None, err.read_text()
        assert time.monotonic() < deadline, err.read_text()
        time.sleep(0.05)


@pytest.mark.slow
def test_against_a_server_emit_waits_for_its_worker(tmp_path: Path, processes: Processes,
                                                    good: Receiver, bad: Receiver) -> None:
    db = tmp_path / "bo.db"
    manage, read = seed(db)
    server = Server(processes, db, tmp_path, args=["--allow-private-targets",
                                                   "--worker-interval", "0.2"])
    env = api_env(server.base, manage)
    with httpx.Client(base_url=server.base, timeout=10,
                      headers={"Authorization": f"Bearer {manage}"}) as client:
        for name, receiver, types in (("good-hook", good, ["mbway"]),
                                      ("bad-hook", bad, ["xpay"])):
            assert client.post("/v1/webhooks", json={
                "name": name, "type": "url", "url": receiver.url(), "secret": SIBS_SECRET,
                "application": "merchant", "notifications": types}).status_code == 201
    cfg = str(tmp_path / "webhooks.yaml")

    ok = run_cli("emit", "--terminal", "10001", "--type", "mbway", "--wait", "-f", cfg,
                 env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "good-hook  delivered, HTTP 200" in ok.stdout and len(good.received) == 1
    ko = run_cli("emit", "--terminal", "10001", "--type", "xpay", "--wait", "--format", "json",
                 "-f", cfg, env=env, cwd=tmp_path)
    assert ko.returncode == 1, ko.stderr
    [failed] = json.loads(ko.stdout)["deliveries"]
    assert failed["status"] == "failed" and failed["history"][0]["status_code"] == 200

    refused = run_cli("resend", failed["id"], "-f", cfg, env=api_env(server.base, read),
                      cwd=tmp_path)
    assert refused.returncode == 1 and "lacks the permission" in refused.stderr
    resent = run_cli("resend", failed["id"], "-f", cfg, env=env, cwd=tmp_path)
    assert resent.returncode == 0 and "attempt 2 due now" in resent.stdout
    deliver = run_cli("deliver", "-f", cfg, env=env, cwd=tmp_path)
    assert deliver.returncode == 0 and deliver.stdout.startswith("Attempted 0 due deliveries.")
    deadline = time.monotonic() + WAIT_LIMIT
    while len(bad.received) < 2:  # the server's worker attempts it
        assert time.monotonic() < deadline
        time.sleep(0.05)
    listed = run_cli("deliveries", "bad-hook", "--format", "json", "-f", cfg, env=env,
                     cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [again] = json.loads(listed.stdout)
    while again["attempts"] < 2:  # the answer came; the outcome is being written
        assert time.monotonic() < deadline
        time.sleep(0.05)
        again = httpx.get(f"{server.base}/v1/deliveries/{failed['id']}",
                          headers={"Authorization": f"Bearer {read}"}).json()
    assert [a["number"] for a in again["history"]] == [1, 2]
    recovered = run_cli("recover", "bad-hook", "--since", "1h", "-f", cfg, env=env,
                        cwd=tmp_path)
    assert recovered.returncode == 0 and "Recovered 1 " in recovered.stdout
    assert server.stop() == 0

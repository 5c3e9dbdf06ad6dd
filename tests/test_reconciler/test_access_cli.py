"""`webhooks token create|list|revoke`, `webhooks secret reveal` and `webhooks audit`:
in-process on a database and the embedded backoffice, and against `webhooks serve`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import Run
from tests.support.processes import Processes
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, api_env, run_cli, seed, write_config


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    yield Run(capsys)


def test_token_create_list_and_revoke_on_the_database(tmp_path: Path, run: Run) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'bo.db'}"]
    code, out, err = run("token", "create", "--scope", "manage", *db)  # as before: no name
    assert code == 0 and out.startswith("wbo_") and len(out.strip().splitlines()) == 1
    first = out.strip()
    assert "manage-" in err and "never expires" in err and first not in err
    code, out, err = run("token", "create", "--scope", "reveal", "--name", "ci-apply",
                         "--expires-in", "90d", *db)
    assert code == 0, err
    second = out.strip()
    assert "(ci-apply, expires " in err
    code, out, _ = run("token", "list", "--format", "json", *db)
    by_name = {t["name"]: t for t in json.loads(out)}
    ci, unnamed = by_name.pop("ci-apply"), by_name.popitem()[1]
    assert (ci["scope"], ci["status"], unnamed["scope"]) == ("reveal", "active", "manage")
    assert unnamed["name"].startswith("manage-") and not by_name
    assert ci["expires_at"] is not None and unnamed["expires_at"] is None
    code, text, _ = run("token", "list", *db)
    assert text.splitlines()[0].split() == ["ID", "NAME", "SCOPE", "STATUS", "CREATED", "LAST",
                                            "USED", "EXPIRES", "REVOKED"]
    for shown in (out, text):
        assert first not in shown and second not in shown
    code, out, err = run("token", "revoke", ci["id"], *db)
    assert code == 0 and "Revoked token" in out and "within 5 s" in out
    code, out, _ = run("token", "revoke", ci["id"], *db)
    assert code == 0 and "already revoked" in out
    code, out, _ = run("token", "list", "--format", "json", *db)
    assert {t["name"]: t["status"] for t in json.loads(out)} == {
        "ci-apply": "revoked", unnamed["name"]: "active"}
    code, _, err = run("token", "revoke", "tok_0000000000000000", *db)
    assert code == 1 and "no token with id 'tok_0000000000000000'" in err
    code, _, err = run("token", "list", "--merchant", "nobody", *db)
    assert code == 1 and "no merchant" in err
    for bad in ("\udcff", "wbo_" + "A" * 43, "tok_\x1b[2J", "x" * 5000):
        code, out, err = run("token", "revoke", bad, *db)
        assert (code, out) == (2, "") and "not a token id" in err and bad not in err


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--name", "bad\x1bname"], 1, "name must be 1 to 64"),
    (["--name", "rtl\u202ename"], 1, "name must be 1 to 64"),
    (["--name", "x" * 65], 1, "name must be 1 to 64"),
    (["--expires-in", "soon"], 2, "is not a duration"),
    (["--expires-in", "0"], 2, "must be more than 0"),
    (["--expires-in", "9" * 5000], 2, "is not a duration"),
    (["--scope", "admin"], 2, "'admin' is not one of"),
    (["--merchant", "\udcff\udcfe"], 2, "not a merchant id"),  # not UTF-8 in argv
    (["--merchant", "de\x1bmo"], 2, "not a merchant id"),
])
def test_a_hostile_token_option_is_a_clear_error(tmp_path: Path, run: Run, args: list[str],
                                                 code: int, words: str) -> None:
    scope = [] if "--scope" in args else ["--scope", "read"]
    got, out, err = run("token", "create", *scope, *args, "--db",
                        f"sqlite:///{tmp_path / 'bo.db'}")
    assert got == code and words in err and out == ""
    assert "\x1b" not in err and "\u202e" not in err and "Traceback" not in err


def test_secret_reveal_prints_the_secret_and_nothing_else(
        tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SIBS_SECRET)
    config = write_config(tmp_path / "webhooks.yaml", {
        "orders": {"type": "url", "url": "https://hooks.shop.example/o",
                   "notifications": ["mbway"], "secret": "${env:HOOK_SECRET}"},
        "mail": {"type": "email", "email": "ops@shop.example", "notifications": ["mbway"]}})
    cfg = ["-f", str(config)]
    assert run("apply", "--auto-approve", *cfg)[0] == 0
    assert run("secret", "reveal", "orders", *cfg) == (0, SIBS_SECRET + "\n", "")
    code, out, err = run("secret", "reveal", "mail", *cfg)
    assert (code, out) == (1, "") and "e-mail webhooks have no secret" in err
    code, out, err = run("secret", "reveal", "nobody", *cfg)
    assert (code, out) == (1, "") and "no webhook named 'nobody'" in err
    code, out, _ = run("audit", "--format", "json", *cfg)
    [reveal, *_] = json.loads(out)
    assert (reveal["action"], reveal["target_name"], reveal["actor"]) == (
        "secret.reveal", "orders", "cli:local")
    assert SIBS_SECRET not in out
    code, out, _ = run("audit", "--since", "1h", *cfg)
    assert out.splitlines()[0].split()[:4] == ["AT", "WHO", "ACTION", "TARGET"]
    assert "secret.reveal" in out and "webhook.create" in out and SIBS_SECRET not in out
    code, out, _ = run("audit", "--since", "2999-01-01", *cfg)
    assert code == 0 and out.startswith("No audit entries since 2999-01-01")
    assert run("audit", "--since", "soon", *cfg)[0] == 2
    assert run("audit", "--limit", "0", *cfg)[0] == 2


def test_tokens_reveal_and_audit_against_a_server(tmp_path: Path,
                                                 processes: Processes) -> None:
    db = tmp_path / "bo.db"
    manage, read = seed(db)
    server = Server(processes, db, tmp_path)
    config = write_config(tmp_path / "webhooks.yaml", {
        "orders": {"type": "url", "url": "https://hooks.shop.example/o",
                   "notifications": ["mbway"], "secret": "${env:HOOK_SECRET}"}})
    cfg = ["-f", str(config)]
    env = api_env(server.base, manage, HOOK_SECRET=SIBS_SECRET)
    assert run_cli("apply", "--auto-approve", *cfg, env=env, cwd=tmp_path).returncode == 0
    made = run_cli("token", "create", "--scope", "reveal", "--name", "ops", "--db",
                   f"sqlite:///{db}", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    reveal = made.stdout.strip()

    as_reader = run_cli("secret", "reveal", "orders", *cfg,
                        env={**env, "WEBHOOKS_API_TOKEN": read}, cwd=tmp_path)
    assert as_reader.returncode == 1 and as_reader.stdout == ""
    assert "lacks the permission to reveal secrets" in as_reader.stderr
    shown = run_cli("secret", "reveal", "orders", *cfg,
                    env={**env, "WEBHOOKS_API_TOKEN": reveal}, cwd=tmp_path)
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, SIBS_SECRET + "\n", "")
    audit = run_cli("audit", "--format", "json", *cfg,
                    env={**env, "WEBHOOKS_API_TOKEN": read}, cwd=tmp_path)
    entries = json.loads(audit.stdout)
    assert [(e["action"], e["outcome"], e["status"]) for e in entries[:2]] == [
        ("secret.reveal", "ok", 200), ("secret.reveal", "refused", 403)]
    assert entries[0]["actor"] == "ops" and entries[1]["actor"].startswith("read-")

    # Revoked on the database while the server runs: refused within its 5 s bound.
    listed = json.loads(run_cli("token", "list", "--format", "json", "--db", f"sqlite:///{db}",
                                env=env, cwd=tmp_path).stdout)
    [ops] = [t for t in listed if t["name"] == "ops"]
    assert ops["last_used_at"] is not None
    revoked = run_cli("token", "revoke", ops["id"], "--db", f"sqlite:///{db}", env=env,
                      cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    started = time.monotonic()
    with httpx.Client(base_url=server.base, timeout=10,
                      headers={"Authorization": f"Bearer {reveal}"}) as client:
        while (answer := client.get("/v1/webhooks")).status_code == 200:
            assert time.monotonic() - started < 5.5, "still trusted past the bound"
            time.sleep(0.2)
    assert answer.status_code == 401 and answer.json()["detail"] == "the bearer token was revoked"
    refused = run_cli("list", env={**env, "WEBHOOKS_API_TOKEN": reveal}, cwd=tmp_path)
    assert refused.returncode == 1 and "401: the bearer token was revoked" in refused.stderr
    assert reveal not in refused.stderr + refused.stdout

"""The backoffice a command talks to is named explicitly, never reached by a silent fallback.

The first problem of issue 14: with ``WEBHOOKS_API_URL`` empty (a CI system's undefined
variable) and a manage token set, ``apply`` created every webhook in a fresh embedded
backoffice on the runner, ignored the token and exited 0. Here each command that talks
to a backoffice refuses that (exit 1, naming the variable) and creates nothing; CI needs
``--embedded`` for the embedded backoffice; plans and plan files name their backoffice,
and apply refuses a plan file made against another; read-only commands create nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.target import Target, ci_is_set, mismatch
from tests.support.config import REPO

SAMPLE = (REPO / "webhooks.yaml").read_text()
TOKEN = "wbo_" + "Target" * 7 + "X"  # well-formed, issued to nobody: never printed

# Every command that talks to a backoffice, as a user would type it.
BACKOFFICE_COMMANDS = {
    "validate": ["validate"],
    "plan": ["plan"],
    "apply": ["apply", "--auto-approve"],
    "list": ["list"],
    "show": ["show", "orders-backend"],
    "import": ["import"],
    "test": ["test", "local-receiver"],
    "emit": ["emit", "--terminal", "10001", "--type", "mbway"],
    "deliveries": ["deliveries"],
    "resend": ["resend", "dl_0"],
    "recover": ["recover", "orders-backend", "--since", "1h"],
    "deliver": ["deliver"],
}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh checkout: the sample config, its development key, no .webhooks/."""
    (tmp_path / "webhooks.yaml").write_text(SAMPLE)
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "local-receiver.secret").write_text(
        (REPO / "dev" / "local-receiver.secret").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def webhooks(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-color", *args])
    out, err = capfd.readouterr()
    return code, out, err


def created(work: Path) -> list[str]:
    """What a command left on disk beside the config (nothing, for the refusals)."""
    return sorted(p.name for p in work.iterdir() if p.name not in ("webhooks.yaml", "dev"))


@pytest.mark.parametrize("command", BACKOFFICE_COMMANDS, ids=list(BACKOFFICE_COMMANDS))
def test_an_empty_api_url_with_a_token_in_ci_is_an_error_and_creates_nothing(
        command: str, work: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("WEBHOOKS_API_URL", "")
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", TOKEN)
    code, out, err = webhooks(capfd, *BACKOFFICE_COMMANDS[command])
    assert code == 1, out + err
    assert err.startswith("Error: WEBHOOKS_API_URL is set but empty: "), err
    assert "pass --embedded" in err and TOKEN not in out + err
    assert created(work) == []


@pytest.mark.parametrize("command", ["plan", "apply", "list", "test", "validate"])
def test_a_token_with_no_url_is_an_error(command: str, work: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", TOKEN)
    code, out, err = webhooks(capfd, *BACKOFFICE_COMMANDS[command])
    assert code == 1, out + err
    assert err.startswith("Error: WEBHOOKS_API_TOKEN is set but WEBHOOKS_API_URL is not"), err
    assert TOKEN not in out + err and created(work) == []


def test_an_empty_api_url_flag_is_an_error_too(work: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = webhooks(capfd, "--api-url", "", "plan")
    assert code == 1 and err.startswith("Error: --api-url is set but empty"), err
    assert created(work) == []


def test_in_ci_the_embedded_backoffice_needs_embedded(
        work: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    code, _, err = webhooks(capfd, "apply", "--auto-approve")
    assert code == 1 and "CI is set and no backoffice is named" in err
    assert "pass --embedded" in err and created(work) == []
    code, out, err = webhooks(capfd, "--embedded", "apply", "--auto-approve")
    assert code == 0, out + err
    assert "Apply complete: 5 created." in out and created(work) == [".webhooks"]
    # --embedded beside a URL names two backoffices: refused.
    monkeypatch.setenv("WEBHOOKS_API_URL", "http://127.0.0.1:9")
    code, _, err = webhooks(capfd, "--embedded", "plan")
    assert code == 1 and "--embedded and WEBHOOKS_API_URL name two backoffices" in err


@pytest.mark.parametrize(("value", "is_set"), [
    ("true", True), ("1", True), ("yes", True), ("TRUE", True), (" true ", True),
    ("false", False), ("False", False), ("0", False), ("", False), ("  ", False),
    (None, False),
])
def test_what_counts_as_ci(value: str | None, is_set: bool) -> None:
    env = {} if value is None else {"CI": value}
    assert ci_is_set(env) is is_set


def test_ci_false_keeps_the_embedded_default(work: Path, monkeypatch: pytest.MonkeyPatch,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "false")
    code, out, err = webhooks(capfd, "plan")
    assert code == 0, out + err


def test_commands_without_a_backoffice_ignore_the_variables(
        work: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("WEBHOOKS_API_URL", "")
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", TOKEN)
    code, out, err = webhooks(capfd, "validate", "--offline")
    # (the sample's local receiver is on loopback: offline, that is a warning)
    assert code == 0 and "webhooks.yaml: valid (5 webhooks, 1 warning)" in out, out + err
    code, out, _ = webhooks(capfd, "schema")
    assert code == 0 and json.loads(out)["title"]
    # listen stops at its own missing secret, not at the backoffice variables.
    code, _, err = webhooks(capfd, "listen", "--port", "0")
    assert code == 1 and "no secret: set WEBHOOKS_LISTEN_SECRET" in err
    assert created(work) == []


def test_read_only_commands_create_nothing_and_plan_still_shows_the_creates(
        work: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # The README's first command on a fresh clone: plan, then apply.
    code, out, err = webhooks(capfd, "validate")
    assert code == 0, out + err
    code, out, err = webhooks(capfd, "plan")
    assert code == 0, out + err
    database = work / ".webhooks" / "backoffice.db"
    assert out.startswith(f"Backoffice: embedded, {database} (not created yet)\n")
    assert "Plan: 5 to create, 0 to update, 0 to replace, 0 to delete" in out
    code, out, err = webhooks(capfd, "plan", "--out", "plan.json")
    assert code == 0, out + err
    for args, want in ((["list"], 0), (["list", "--format", "json"], 0),
                       (["show", "orders-backend"], 1), (["import", "--all"], 1)):
        code, out, err = webhooks(capfd, *args)
        assert code == want, (args, out, err)
    assert created(work) == ["plan.json"]  # no .webhooks/, no database, no server.key
    # The first apply creates it, and applies the plan made before it existed.
    code, out, err = webhooks(capfd, "apply", "plan.json")
    assert code == 0 and "Apply complete: 5 created." in out, out + err
    assert database.exists() and (work / ".webhooks" / "server.key").exists()
    code, out, _ = webhooks(capfd, "plan")
    assert out == f"Backoffice: embedded, {database}\n\n" \
        "No changes. The backoffice matches the config (5 webhooks).\n"


def test_plans_list_and_show_name_their_backoffice(
        work: Path, capfd: pytest.CaptureFixture[str]) -> None:
    database = str(work / ".webhooks" / "backoffice.db")
    assert webhooks(capfd, "apply", "--auto-approve")[0] == 0
    code, out, _ = webhooks(capfd, "plan", "--format", "json")
    assert code == 0 and json.loads(out)["backoffice"] == {"kind": "embedded",
                                                           "location": database}
    code, out, _ = webhooks(capfd, "plan", "--format", "markdown")
    assert code == 0 and f"Backoffice: `embedded backoffice {database}`" in out
    for args in (["list"], ["show", "orders-backend"]):
        code, out, err = webhooks(capfd, *args)
        assert code == 0 and err == f"Backoffice: embedded, {database}\n", (args, err)
    code, out, _ = webhooks(capfd, "apply", "--auto-approve")
    assert code == 0 and out.startswith(f"Backoffice: embedded, {database}\n")


def test_a_saved_plan_is_refused_against_another_backoffice(
        work: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert webhooks(capfd, "plan", "--out", "plan.json")[0] == 0
    other = work / "other"
    other.mkdir()
    (other / "webhooks.yaml").write_text(SAMPLE)  # same config, another backoffice
    (other / "dev").symlink_to(work / "dev")
    code, out, err = webhooks(capfd, "apply", "-f", str(other / "webhooks.yaml"), "plan.json")
    assert code == 1, out + err
    assert (f"the plan was made against embedded backoffice {work}/.webhooks/backoffice.db, "
            f"but this apply targets embedded backoffice {other}/.webhooks/backoffice.db; "
            "nothing was applied") in err
    assert not (other / ".webhooks").exists()  # refused before the backoffice was opened
    code, out, err = webhooks(capfd, "--api-url", "https://backoffice.example", "apply",
                              "plan.json")
    assert code == 1 and "but this apply targets https://backoffice.example" in err


def test_a_plan_file_that_names_no_backoffice_is_refused(
        work: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert webhooks(capfd, "plan", "--out", "plan.json")[0] == 0
    data = json.loads((work / "plan.json").read_text())
    data["backoffice"] = None
    (work / "plan.json").write_text(json.dumps(data))
    code, _, err = webhooks(capfd, "apply", "plan.json")
    assert code == 1 and "does not say which backoffice it was made against" in err
    assert not (work / ".webhooks").exists()


def test_targets_compare_by_kind_and_location_only() -> None:
    http = Target("http", "https://bo.example", token=True)
    assert mismatch(Target("http", "https://bo.example"), http) is None
    why = mismatch(Target("http", "https://other.example"), http)
    assert why is not None and "https://other.example" in why and "https://bo.example" in why
    assert mismatch(Target("embedded", "/a/backoffice.db"), http) is not None
    assert Target.from_data(http.data) == Target("http", "https://bo.example")
    assert "token from WEBHOOKS_API_TOKEN" in http.line
    assert "WEBHOOKS_API_TOKEN is unset" in Target("http", "https://bo.example").line


def test_embedded_by_name_ignores_an_empty_url_and_a_lone_token(
        work: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("WEBHOOKS_API_URL", "")
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", TOKEN)
    code, out, err = webhooks(capfd, "--embedded", "plan")
    assert code == 0 and out.startswith("Backoffice: embedded, "), out + err
    assert TOKEN not in out + err and created(work) == []

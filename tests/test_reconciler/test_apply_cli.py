"""`webhooks plan` and `webhooks apply` end to end on the embedded backoffice."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import main
from tests.support.secrets import OTHER_SIBS_SECRET, SIBS_SECRET

OWNER = "payments-team"
SECRET_A = SIBS_SECRET
SECRET_B = OTHER_SIBS_SECRET


def write(cfg: Path, webhooks: dict[str, dict[str, Any]]) -> None:
    doc = {"version": 1, "owner": OWNER, "defaults": {"application": "merchant"},
           "webhooks": webhooks}
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))


def hook(path: str, **kw: Any) -> dict[str, Any]:
    return {"type": "url", "url": f"https://hooks.shop.example/{path}",
            "notifications": ["mbway"], **kw}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "webhooks.yaml"




def run(*args: str) -> int:
    return main(["--no-color", *args])


def remote_names(cfg: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert run("plan", "-f", str(cfg), "--format", "json") in (0, 1)
    data = json.loads(capsys.readouterr().out)
    return sorted(c["name"] for c in data["changes"] if c["action"] != "create")


def test_apply_refuses_without_a_terminal_and_changes_nothing(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(cfg, {"orders": hook("orders")})
    assert run("apply", "-f", str(cfg)) == 1
    err = capsys.readouterr().err
    assert "standard input is not a terminal" in err and "--auto-approve" in err
    assert run("plan", "-f", str(cfg), "--detailed-exitcode") == 2


def test_apply_asks_for_yes_on_a_terminal(
    cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(cfg, {"orders": hook("orders")})

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty("no\n"))
    assert run("apply", "-f", str(cfg)) == 1
    assert "apply cancelled" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", Tty("yes\n"))
    assert run("apply", "-f", str(cfg)) == 0
    assert "Apply complete: 1 created." in capsys.readouterr().out
    assert run("plan", "-f", str(cfg), "--detailed-exitcode") == 0


def test_saved_plan_applies_what_was_reviewed(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(cfg, {"orders": hook("orders"), "refunds": hook("refunds")})
    out = tmp_path / "plan.json"
    assert run("plan", "-f", str(cfg), "--out", str(out)) == 0
    assert run("apply", str(out), "-f", str(cfg)) == 0
    assert "Apply complete: 2 created." in capsys.readouterr().out
    assert run("plan", "-f", str(cfg), "--detailed-exitcode") == 0
    # Applying the same plan again: its creates' preconditions ("absent") no longer hold.
    assert run("apply", str(out), "-f", str(cfg)) == 1
    assert "stale" in capsys.readouterr().err


def test_stale_saved_plan_is_refused_whole(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(cfg, {"orders": hook("orders")})
    assert run("apply", "-f", str(cfg), "--auto-approve") == 0
    write(cfg, {"orders": hook("orders", description="reviewed"), "new": hook("new")})
    out = tmp_path / "plan.json"
    assert run("plan", "-f", str(cfg), "--out", str(out)) == 0
    # Someone changes the backoffice after the review.
    other = tmp_path / "other.yaml"
    write(other, {"orders": hook("orders", description="someone else")})
    other_data = tmp_path / ".webhooks"
    assert other_data.exists()  # same directory: the same embedded backoffice
    assert run("apply", "-f", str(other), "--auto-approve", "--target", "orders") == 0
    capsys.readouterr()
    assert run("apply", str(out), "-f", str(cfg)) == 1
    err = capsys.readouterr().err
    assert "stale" in err and "orders: changed since the plan" in err
    # Nothing was applied: "new" was not created.
    assert run("plan", "-f", str(cfg), "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["name"]: c["action"] for c in data["changes"]} == {
        "new": "create", "orders": "update"}


def test_saved_plan_refused_when_the_secret_changed(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backoffice exists (a plan made before it did is compared without its secrets,
    # whose fingerprint key was never kept).
    write(cfg, {"other": hook("other")})
    assert run("apply", "-f", str(cfg), "--auto-approve") == 0
    write(cfg, {"other": hook("other"), "orders": hook("orders", secret="${env:ORDERS_SECRET}")})
    monkeypatch.setenv("ORDERS_SECRET", SECRET_A)
    out = tmp_path / "plan.json"
    assert run("plan", "-f", str(cfg), "--out", str(out)) == 0
    monkeypatch.setenv("ORDERS_SECRET", SECRET_B)
    capsys.readouterr()
    assert run("apply", str(out), "-f", str(cfg)) == 1
    captured = capsys.readouterr()
    assert "stale" in captured.err and "orders" in captured.err
    for text in (captured.out, captured.err, out.read_text()):
        assert SECRET_A not in text and SECRET_B not in text
    monkeypatch.setenv("ORDERS_SECRET", SECRET_A)
    assert run("apply", str(out), "-f", str(cfg)) == 0


def test_bulk_delete_needs_force_and_prevent_destroy_never_yields(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = {f"hook-{i:02d}": hook(f"h{i}") for i in range(10)}
    hooks["hook-00"]["prevent_destroy"] = True
    write(cfg, hooks)
    assert run("apply", "-f", str(cfg), "--auto-approve") == 0
    # Remove four (40% > 30%) including the protected one.
    write(cfg, {k: v for k, v in hooks.items() if k not in {"hook-00", "hook-01", "hook-02",
                                                             "hook-03"}})
    capsys.readouterr()
    assert run("plan", "-f", str(cfg)) == 1
    out = capsys.readouterr().out
    assert "--force" in out and "hook-00" in out
    assert run("apply", "-f", str(cfg), "--auto-approve") == 1
    assert run("apply", "-f", str(cfg), "--auto-approve", "--force") == 1
    err = capsys.readouterr().err
    assert "prevent_destroy" in err
    # Put the protected one back: now only the threshold (4 of 10) stands; --force passes.
    write(cfg, {k: v for k, v in hooks.items()
                if k not in {"hook-01", "hook-02", "hook-03", "hook-04"}})
    assert run("apply", "-f", str(cfg), "--auto-approve") == 1
    assert run("apply", "-f", str(cfg), "--auto-approve", "--force") == 0
    assert "4 deleted" in capsys.readouterr().out


def test_apply_json_report(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(cfg, {"orders": hook("orders")})
    capsys.readouterr()
    assert run("apply", "-f", str(cfg), "--auto-approve", "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    [result] = report["results"]
    assert result["name"] == "orders" and result["action"] == "create" and result["ok"]
    assert result["id"].startswith("wh_")


def test_plan_detailed_exitcode_and_formats(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(cfg, {"orders": hook("orders")})
    assert run("plan", "-f", str(cfg), "--detailed-exitcode") == 2
    assert run("plan", "-f", str(cfg), "--format", "markdown") == 0
    assert "<!-- webhooks-reconciler:plan -->" in capsys.readouterr().out
    assert run("apply", "-f", str(cfg), "--auto-approve") == 0
    capsys.readouterr()
    assert run("plan", "-f", str(cfg), "--detailed-exitcode") == 0
    assert "No changes" in capsys.readouterr().out

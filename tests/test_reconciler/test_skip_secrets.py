"""Plans without secrets: `plan --skip-secrets` plans when the secrets are not there, says
so where a secret would be in every format, and a plan file made so is applied only when
everything but the secrets is as reviewed. `validate --strict` makes warnings errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from backoffice import Backoffice
from reconciler.plan import planfile
from tests.support.cli import Run
from tests.support.secrets import OTHER_SIBS_SECRET, SIBS_SECRET, assert_no_secret

OWNER = "payments-team"
NOT_COMPARED = "not compared (--skip-secrets)"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


def write(cfg: Path, webhooks: dict[str, dict[str, Any]]) -> Path:
    doc = {"version": 1, "owner": OWNER, "defaults": {"application": "merchant"},
           "webhooks": webhooks}
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    return cfg


def hook(path: str, **kw: Any) -> dict[str, Any]:
    return {"type": "url", "url": f"https://hooks.shop.example/{path}",
            "notifications": ["mbway"], "secret": f"${{env:{path.upper()}_SECRET}}", **kw}


def test_a_plan_without_secrets_says_where_they_were_not_compared(run: Run, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    cfg = write(tmp_path / "webhooks.yaml", {"orders": hook("orders"), "refunds": hook("refunds")})
    monkeypatch.setenv("ORDERS_SECRET", SIBS_SECRET)
    monkeypatch.setenv("REFUNDS_SECRET", SIBS_SECRET)
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    monkeypatch.delenv("ORDERS_SECRET")
    monkeypatch.delenv("REFUNDS_SECRET")
    write(cfg, {"orders": hook("orders", enabled=False), "refunds": hook("refunds"),
                "new": hook("new")})

    code, _, err = run("plan", "-f", str(cfg))  # without the flag: the secrets are needed
    assert code == 1 and "ORDERS_SECRET is not set" in err

    code, text, err = run("plan", "-f", str(cfg), "--skip-secrets")
    assert code == 0, err
    assert "Secrets were not read nor compared (--skip-secrets)" in text
    assert any(line.strip().startswith("+ secret:") and line.endswith(NOT_COMPARED)
               for line in text.splitlines())  # the create
    assert f"secret {NOT_COMPARED}" in text.split("update orders")[1]  # the update
    assert "Plan: 1 to create, 1 to update, 0 to replace, 0 to delete; 1 unchanged." in text

    code, markdown, _ = run("plan", "-f", str(cfg), "--skip-secrets", "--format", "markdown")
    assert f"+ secret: {NOT_COMPARED}" in markdown and f"  secret {NOT_COMPARED}" in markdown
    assert "Secrets were not read nor compared (--skip-secrets)" in markdown

    out = tmp_path / "plan.json"
    code, raw, _ = run("plan", "-f", str(cfg), "--skip-secrets", "--format", "json",
                       "--out", str(out))
    data = json.loads(raw)
    assert data["secrets_compared"] is False and data["options"]["skip_secrets"] is True
    created = next(c for c in data["changes"] if c["name"] == "new")
    assert created["after"]["secret"] == {"sensitive": True, "compared": False,
                                          "source": "env:NEW_SECRET"}
    assert planfile.load(out).options.skip_secrets
    assert_no_secret(text, markdown, raw, out.read_text(), *run.printed)


def test_applying_it_reads_the_secrets_and_checks_the_rest(run: Run, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    cfg = write(tmp_path / "webhooks.yaml", {"orders": hook("orders")})
    monkeypatch.setenv("ORDERS_SECRET", SIBS_SECRET)
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    write(cfg, {"orders": hook("orders", description="reviewed"), "new": hook("new")})
    reviewed = tmp_path / "plan.json"
    monkeypatch.delenv("ORDERS_SECRET")
    assert run("plan", "-f", str(cfg), "--skip-secrets", "--out", str(reviewed))[0] == 0

    # apply needs the secrets
    code, _, err = run("apply", "-f", str(cfg), str(reviewed))
    assert code == 1 and "ORDERS_SECRET is not set" in err
    # a rotated secret is not in the reviewed plan: it is applied with the rest
    monkeypatch.setenv("ORDERS_SECRET", OTHER_SIBS_SECRET)
    monkeypatch.setenv("NEW_SECRET", SIBS_SECRET)
    code, out, err = run("apply", "-f", str(cfg), str(reviewed))
    assert code == 0, err
    assert "orders: updated (description, secret)" in out and "new: created" in out
    assert run("plan", "-f", str(cfg), "--detailed-exitcode")[0] == 0
    assert_no_secret(*run.printed)


def test_anything_but_a_secret_that_differs_refuses_the_reviewed_plan(
        run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "webhooks.yaml", {"orders": hook("orders")})
    monkeypatch.setenv("ORDERS_SECRET", SIBS_SECRET)
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    write(cfg, {"orders": hook("orders", description="reviewed")})
    reviewed = tmp_path / "plan.json"
    assert run("plan", "-f", str(cfg), "--skip-secrets", "--out", str(reviewed))[0] == 0
    with Backoffice.open(f"sqlite:///{tmp_path / '.webhooks' / 'backoffice.db'}",
                         data_dir=tmp_path / ".webhooks") as office:
        [orders] = office.webhooks.list_webhooks("demo").data
        office.webhooks.update_webhook("demo", orders["id"], {"enabled": False})
    code, out, err = run("apply", "-f", str(cfg), str(reviewed))
    assert code == 1 and "is stale; nothing was applied" in err
    assert "orders: changed since the plan (version 1 -> 2: enabled changed)" in err
    assert "Apply complete" not in out


def test_validate_strict_makes_warnings_errors(run: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path / "webhooks.yaml", {"orders": hook("orders")})
    code, out, _ = run("validate", "--offline", "-f", str(cfg))
    assert code == 0 and "warning: webhooks.orders.secret" in out
    code, out, _ = run("validate", "--offline", "--strict", "-f", str(cfg))
    assert code == 1
    assert "ORDERS_SECRET is not set; not checked (plan and apply need it) (an error with " \
           "--strict)" in out
    assert out.splitlines()[-1] == f"{cfg}: 1 error, 0 warnings"
    code, out, _ = run("validate", "--offline", "--strict", "--format", "json", str(cfg))
    data = json.loads(out)
    assert code == 1 and data["valid"] is False and data["strict"] is True
    assert data["files"][0]["problems"][0]["severity"] == "error"
    (tmp_path / "clean").mkdir()
    clean = write(tmp_path / "clean" / "webhooks.yaml",
                  {"mail": {"type": "email", "email": "ops@shop.example",
                            "notifications": ["mbway"]}})
    assert run("validate", "--offline", "--strict", "-f", str(clean))[0] == 0

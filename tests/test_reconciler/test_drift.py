"""Drift told apart from the change under review: apply records what it applied on each
webhook; a plan then marks each field change with where it comes from (the config, this
pull request, the base, drift, both) and lists the drift apart, in every format. A webhook
stripped of its owner label is drift to repair, not a conflict; --fail-on-unmanaged makes
unmanaged webhooks fail the drift check.

Each core test runs on the embedded and the HTTP provider (SQLite and PostgreSQL); the
CLI tests run the real command on the embedded backoffice, in a real git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from backoffice import Backoffice
from reconciler import gitbase
from reconciler.apply import apply_plan
from reconciler.errors import ReconcilerError
from reconciler.plan import Plan, planfile
from reconciler.providers import Provider
from reconciler.session import plan_config
from tests.support.cli import Run
from tests.support.secrets import OTHER_SIBS_SECRET, SIBS_SECRET, assert_no_secret

OWNER = "payments-team"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


def write(cfg: Path, webhooks: dict[str, dict[str, Any]], **top: Any) -> Path:
    doc = {"version": 1, "owner": OWNER, "defaults": {"application": "merchant"},
           "webhooks": webhooks, **top}
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    return cfg


def hook(path: str, **kw: Any) -> dict[str, Any]:
    return {"type": "url", "url": f"https://hooks.shop.example/{path}",
            "notifications": ["mbway"], **kw}


async def applied(provider: Provider, cfg: Path) -> Plan:
    _, plan = await plan_config(provider, cfg)
    report = await apply_plan(plan, provider)
    assert report.ok, report.summary_line()
    return plan


async def by_hand(provider: Provider, name: str, patch: dict[str, Any]) -> None:
    """A change made outside the config: an API call without the last-applied record."""
    [remote] = [w for w in await provider.fetch() if w.name == name]
    await provider.update(remote.id, patch, if_match=remote.version)


def origins(plan: Plan) -> dict[tuple[str, str], str | None]:
    return {(c.name, f.field): f.origin for c in plan.changes for f in c.fields}


@pytest.mark.anyio
async def test_drift_and_the_configs_changes_are_told_apart(provider: Provider,
                                                            tmp_path: Path) -> None:
    cfg = write(tmp_path / "webhooks.yaml", {"orders": hook("orders", description="Orders"),
                                             "refunds": hook("refunds")})
    await applied(provider, cfg)
    [orders] = [w for w in await provider.fetch() if w.name == "orders"]
    assert orders.applied is not None and orders.applied["owner"] == OWNER
    assert orders.applied["revision"] is None  # tmp_path is no git repository
    assert orders.applied["state"]["description"] == "Orders"

    await by_hand(provider, "orders", {"enabled": False, "description": "changed by hand"})
    await by_hand(provider, "refunds", {"notifications": ["mbway", "xpay"]})
    write(cfg, {"orders": hook("orders", description="Orders v2"),  # also changed by hand
                "refunds": hook("refunds", support_email="ops@shop.example")})
    _, plan = await plan_config(provider, cfg)
    assert origins(plan) == {
        ("orders", "enabled"): "drift",  # only outside: apply restores the config
        ("orders", "description"): "both",  # in the config and outside it
        ("refunds", "notifications"): "drift",
        ("refunds", "support_email"): "config",  # only the config's
    }
    drift = {d.name: {f.field: (f.applied, f.live) for f in d.fields} for d in plan.drift}
    assert drift == {
        "orders": {"enabled": (True, False), "description": ("Orders", "changed by hand")},
        "refunds": {"notifications": (("mbway",), ("mbway", "xpay"))},
    }
    assert all(d.applied_at for d in plan.drift)

    # apply restores the config and records it: nothing is left to plan
    report = await apply_plan(plan, provider)
    assert report.ok
    _, again = await plan_config(provider, cfg)
    assert not again.has_changes and not again.drift


@pytest.mark.anyio
async def test_a_stripped_owner_label_is_drift_to_repair(provider: Provider,
                                                         tmp_path: Path) -> None:
    cfg = write(tmp_path / "webhooks.yaml", {"orders": hook("orders")})
    await applied(provider, cfg)
    await by_hand(provider, "orders", {"labels": {"team": "payments"}})
    _, plan = await plan_config(provider, cfg)
    assert plan.is_safe and not plan.conflicts
    [change] = plan.changes
    assert str(change.action) == "update" and not change.adopt
    assert origins(plan) == {("orders", "managed_by"): "drift", ("orders", "owner"): "drift"}
    assert (await apply_plan(plan, provider)).ok
    [now] = [w for w in await provider.fetch() if w.name == "orders"]
    assert now.managed and now.owner == OWNER and now.labels["team"] == "payments"

    # the same name with no last-applied record stays a conflict: nothing tells it was ours
    await provider.create({"name": "manual", "type": "url", "application": "merchant",
                           "url": "https://hooks.shop.example/manual",
                           "notifications": ["mbway"]}, idempotency_key="manual-1")
    write(cfg, {"orders": hook("orders"), "manual": hook("manual")})
    _, plan = await plan_config(provider, cfg)
    assert [c.name for c in plan.conflicts] == ["manual"] and not plan.is_safe


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "config-repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "ci@shop.example")
    git(path, "config", "user.name", "CI")
    return path


def office_of(cfg: Path) -> Backoffice:
    return Backoffice.open(f"sqlite:///{cfg.parent / '.webhooks' / 'backoffice.db'}",
                           data_dir=cfg.parent / ".webhooks")


def test_the_pull_requests_changes_are_marked_in_every_format(run: Run, repo: Path) -> None:
    cfg = write(repo / "webhooks.yaml", {"orders": hook("orders", description="Orders"),
                                         "mail": {"type": "email",
                                                  "email": "ops@shop.example",
                                                  "notifications": ["mbway"]}})
    git(repo, "add", "webhooks.yaml")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    with office_of(cfg) as office:
        hooks = {h["name"]: h for h in office.webhooks.list_webhooks("demo").data}
        assert hooks["orders"]["applied"]["revision"] == base  # the config's commit
        office.webhooks.update_webhook("demo", hooks["orders"]["id"], {"enabled": False})
    # The pull request: a new webhook, a new description; on base, the mail was renamed
    git(repo, "checkout", "-q", "-b", "pr")
    write(cfg, {"orders": hook("orders", description="Orders v2"),
                "mail": {"type": "email", "email": "ops@shop.example",
                         "notifications": ["mbway"]},
                "refunds": hook("refunds")})
    git(repo, "commit", "-q", "-am", "pr")

    code, out, err = run("plan", "-f", str(cfg), "--base", "main")
    assert code == 0, err
    assert f"Compared with webhooks.yaml at main ({base[:12]})" in out
    assert "Changed outside webhooks.yaml since the last apply" in out
    assert "enabled: true -> false" in out  # the drift, as applied -> live
    assert "+ create refunds (url)  # this pull request" in out
    assert '~ description: "Orders" -> "Orders v2"  # this pull request' in out
    assert ("~ enabled:     false -> true  # changed outside webhooks.yaml since the last "
            "apply; apply restores it") in out

    code, out, _ = run("plan", "-f", str(cfg), "--base", "main", "--format", "markdown")
    assert "#### Changed outside webhooks.yaml since the last apply" in out
    assert "| `orders` | enabled | `true` | `false` |" in out
    assert "enabled (drift), description (this PR)" in out
    assert "new webhook (this PR)" in out

    code, out, _ = run("plan", "-f", str(cfg), "--base", "main", "--format", "json",
                       "--out", str(repo / "plan.json"))
    data = json.loads(out)
    assert data["base"] == {"revision": "main", "commit": base, "config_found": True}
    assert data["config_revision"] == git(repo, "rev-parse", "HEAD")
    fields = {(c["name"], f["field"]): f.get("origin") for c in data["changes"]
              for f in c["fields"]}
    assert fields == {("orders", "enabled"): "drift", ("orders", "description"): "pull_request"}
    assert {c["name"]: c["origin"] for c in data["changes"]} == {
        "refunds": "pull_request", "orders": None}
    assert data["drift"] == [{"name": "orders", "applied_at": data["drift"][0]["applied_at"],
                              "revision": base, "fields": [
                                  {"field": "enabled", "applied": True, "live": False}]}]
    planfile.load(repo / "plan.json")  # valid against plan.schema.json

    # the config as the base had it, changed back by the pull request: "already on base"
    # only for what the base asked for
    code, out, _ = run("plan", "-f", str(cfg), "--base", "pr", "--format", "json")
    fields = {(c["name"], f["field"]): f.get("origin") for c in json.loads(out)["changes"]
              for f in c["fields"]}
    assert fields[("orders", "description")] == "base"


def test_a_config_the_base_does_not_have_is_all_the_pull_requests(run: Run, repo: Path) -> None:
    (repo / "README").write_text("a config repository\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "first")
    cfg = write(repo / "webhooks.yaml", {"orders": hook("orders")})
    code, out, _ = run("plan", "-f", str(cfg), "--base", "HEAD", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["base"]["config_found"] is False
    assert [c["origin"] for c in data["changes"]] == ["pull_request"]
    # an uncommitted config is recorded as -dirty when applied
    assert gitbase.revision(cfg) == git(repo, "rev-parse", "HEAD") + "-dirty"


@pytest.mark.parametrize("revision", [
    "-rf", "--output=/tmp/x", "main..pr", "a b", "$(id)", "`id`", "main;id", "\u202emain",
    "x" * 300, "main\n", "", "HEAD:webhooks.yaml",
])
def test_a_base_that_is_not_a_revision_is_refused(run: Run, repo: Path, revision: str) -> None:
    cfg = write(repo / "webhooks.yaml", {"orders": hook("orders")})
    git(repo, "add", "webhooks.yaml")
    git(repo, "commit", "-q", "-m", "base")
    code, out, err = run("plan", "-f", str(cfg), "--base", revision)
    assert code == 1 and out == ""
    assert err.startswith("Error: --base") and "Traceback" not in err
    assert "\u202e" not in err and "\n" not in err.rstrip("\n")
    assert not (repo / "x").exists() and not Path("/tmp/x").exists()


def test_an_unknown_base_or_no_repository_is_a_clear_error(run: Run, repo: Path,
                                                           tmp_path: Path) -> None:
    cfg = write(repo / "webhooks.yaml", {"orders": hook("orders")})
    git(repo, "add", "webhooks.yaml")
    git(repo, "commit", "-q", "-m", "base")
    code, _, err = run("plan", "-f", str(cfg), "--base", "origin/main")
    assert code == 1 and "no such commit in this repository (fetch it first" in err
    outside = write(tmp_path / "webhooks.yaml", {"orders": hook("orders")})
    code, _, err = run("plan", "-f", str(outside), "--base", "main")
    assert code == 1 and "is not in a git repository" in err
    with pytest.raises(ReconcilerError, match="not a revision"):
        gitbase.config_at("-h", cfg)


def test_a_stripped_label_makes_the_drift_check_report_drift_not_fail(run: Run,
                                                                      tmp_path: Path) -> None:
    cfg = write(tmp_path / "webhooks.yaml", {"orders": hook("orders")})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    with office_of(cfg) as office:
        [orders] = office.webhooks.list_webhooks("demo").data
        office.webhooks.update_webhook("demo", orders["id"], {"labels": {}})
    code, out, err = run("plan", "-f", str(cfg), "--detailed-exitcode")
    assert code == 2, err  # drift, not "already exists ... not managed" (exit 1)
    assert "owner:      null -> \"payments-team\"  # changed outside webhooks.yaml" in out
    assert "not managed by webhooks-reconciler" not in out + err
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    assert run("plan", "-f", str(cfg), "--detailed-exitcode")[0] == 0


def test_fail_on_unmanaged_names_them_and_fails_the_check(run: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path / "webhooks.yaml", {"orders": hook("orders")})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    with office_of(cfg) as office:
        for name in ("by-hand", "also-by-hand"):
            office.webhooks.create_webhook("demo", {
                "name": name, "type": "email", "email": f"{name}@shop.example",
                "application": "merchant", "notifications": ["mbway"]})
    code, out, _ = run("plan", "-f", str(cfg), "--detailed-exitcode")
    assert code == 0 and "2 unmanaged not shown" in out
    code, out, _ = run("plan", "-f", str(cfg), "--detailed-exitcode", "--fail-on-unmanaged")
    assert code == 2
    assert "Unmanaged: also-by-hand, by-hand. No config manages them (--fail-on-unmanaged)" in out
    assert "not shown" not in out
    code, out, _ = run("plan", "-f", str(cfg), "--fail-on-unmanaged", "--format", "markdown")
    assert code == 0 and "_Unmanaged: also-by-hand, by-hand." in out


def test_the_record_and_the_drift_hold_no_secret(run: Run, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SECRET", SIBS_SECRET)
    cfg = write(tmp_path / "webhooks.yaml",
                {"orders": hook("orders", secret="${env:ORDERS_SECRET}")})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    with office_of(cfg) as office:
        [orders] = office.webhooks.list_webhooks("demo").data
        record = json.dumps(orders["applied"])
        office.webhooks.update_webhook("demo", orders["id"], {
            "secret": OTHER_SIBS_SECRET, "enabled": False})  # a strong one: weak ones are refused
    assert '"secret_fingerprint": "sha256:' in record
    outputs = [run("plan", "-f", str(cfg), "--format", fmt)[1]
               for fmt in ("text", "markdown", "json")]
    assert "secret:  (sensitive) -> (sensitive)" in outputs[0]  # drift of the secret, hidden
    assert_no_secret(record, *outputs, *run.printed)

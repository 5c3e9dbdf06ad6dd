"""The secret commands and what plans and apply say of secrets, by the CLI itself (in
process, every byte it printed kept): `secret generate`, `secret rotate`, weak secrets,
generated secrets, a rotation's grace in plans and `show`, and renames in every format."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from backoffice import Backoffice
from contract import formats
from contract.secrets import secret_problem
from tests.support.cli import Run
from tests.support.secrets import (
    OTHER_SIBS_SECRET,
    OTHER_WHSEC,
    SIBS_SECRET,
    WEAK_SIBS,
    WHSEC,
)

OWNER = "payments-team"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path / "webhooks.yaml"


def write(cfg: Path, webhooks: dict[str, dict[str, Any]], **top: Any) -> None:
    doc = {"version": 1, "owner": OWNER, "defaults": {"application": "merchant", **top},
           "webhooks": webhooks}
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))


def hook(path: str, **kw: Any) -> dict[str, Any]:
    return {"type": "url", "url": f"https://hooks.shop.example/{path}",
            "notifications": ["mbway"], **kw}


def office(cfg: Path) -> Backoffice:
    """The embedded backoffice the CLI used, opened to look inside (secrets included)."""
    return Backoffice.open(f"sqlite:///{cfg.parent / '.webhooks' / 'backoffice.db'}")


def stored_secret(cfg: Path, name: str) -> str:
    with office(cfg) as bo:
        found = bo.webhooks.find_webhook_by_name("demo", name)
        secret = bo.webhooks.webhook_secret("demo", found["id"])
    assert secret is not None
    return secret


def fingerprint_of(cfg: Path, secret: str) -> str:
    """The fingerprint the backoffice publishes for ``secret`` (keyed per merchant)."""
    with office(cfg) as bo:
        return bo.merchants.fingerprints("demo").secret(secret)


# --- secret generate -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", formats.NAMES)
def test_generate_prints_one_strong_secret_and_needs_no_backoffice(
        run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBHOOKS_API_URL", "http://127.0.0.1:9/nobody-listens")
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", "wbo_not-used")
    code, out, err = run("secret", "generate", "--format", fmt)
    assert code == 0 and err == ""
    secret = out.strip()
    assert out == secret + "\n" and secret_problem(fmt, secret) is None
    assert run("secret", "generate", "--format", fmt)[1].strip() != secret
    assert list(tmp_path.iterdir()) == []  # no embedded backoffice was made
    if fmt == "standard-webhooks":
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    else:
        assert len(base64.b64decode(secret)) == 32


def test_generate_refuses_an_unknown_format(run: Run) -> None:
    code, _, err = run("secret", "generate", "--format", "carrier-pigeon")
    assert code == 2 and "sibs" in err


# --- weak secrets ----------------------------------------------------------------------------


def test_validate_and_plan_refuse_a_weak_secret_naming_the_line(
        run: Run, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SECRET", WEAK_SIBS)
    write(cfg, {"orders": hook("orders", secret="${env:ORDERS_SECRET}")})
    code, out, _ = run("validate", "-f", str(cfg))
    assert code == 1
    assert (f"{cfg}:11:13: webhooks.orders.secret: the secret from env:ORDERS_SECRET is weak: "
            "it decodes to printable text") in out
    assert "webhooks secret generate --format sibs" in out
    assert run("plan", "-f", str(cfg))[0] == 1
    assert not any(WEAK_SIBS in text for text in run.printed)


def test_a_weak_secret_the_backoffice_holds_is_a_warning_in_every_plan_format(
        run: Run, cfg: Path) -> None:
    write(cfg, {"orders": hook("orders")})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    with office(cfg) as bo:  # one stored before weak secrets were refused
        from sqlalchemy import update

        from backoffice.db import tables as t

        hook_id = bo.webhooks.find_webhook_by_name("demo", "orders")["id"]
        with bo.db.write() as conn:
            conn.execute(update(t.webhooks).where(t.webhooks.c.id == hook_id).values(
                secret_sealed=bo.sealing.seal_secret(hook_id, WEAK_SIBS),
                secret_fingerprint=bo.merchants.fingerprints("demo").secret(WEAK_SIBS),
                secret_weak=True))
    text = run("plan", "-f", str(cfg))[1]
    assert "the secret of 'orders' in the backoffice is weak" in text
    assert "`webhooks secret rotate orders`" in text
    markdown = run("plan", "-f", str(cfg), "--format", "markdown")[1]
    assert "> [!WARNING]" in markdown and "the secret of 'orders' in the backoffice is weak" in (
        markdown)
    data = json.loads(run("plan", "-f", str(cfg), "--format", "json")[1])
    assert [(w["kind"], w["names"]) for w in data["warnings"]] == [("weak_secret", ["orders"])]
    show = run("show", "orders", "-f", str(cfg))[1]
    assert "WEAK (stored before weak secrets were refused)" in show
    # rotating it away ends the warning
    assert run("secret", "rotate", "orders", "-f", str(cfg))[0] == 0
    # (the plan names its backoffice, whose path holds this test's name: "weak" itself)
    assert "backoffice is weak" not in run("plan", "-f", str(cfg))[1]
    assert not any(WEAK_SIBS in text for text in run.printed)


# --- generated secrets, rotate ---------------------------------------------------------------


def test_plan_and_apply_say_where_a_generated_secret_is_read(run: Run, cfg: Path) -> None:
    write(cfg, {"orders": hook("orders"), "mail": {"type": "email", "email": "o@shop.example",
                                                   "notifications": ["mbway"]}})
    where = "generated by the backoffice: read it with `webhooks secret reveal orders`"
    assert where in run("plan", "-f", str(cfg))[1]
    assert where in run("plan", "-f", str(cfg), "--format", "markdown")[1]
    code, out, _ = run("apply", "-f", str(cfg), "--auto-approve")
    assert code == 0 and f"\norders: secret {where}\n" in out
    assert "reveal mail" not in out  # an e-mail webhook has no secret
    write(cfg, {"orders": hook("orders"), "a": hook("a"), "b": hook("b")})
    data = json.loads(run("apply", "-f", str(cfg), "--auto-approve", "--format", "json")[1])
    assert data["generated_secrets"] == ["a", "b"]
    assert "Secrets generated by the backoffice for a, b: read each with " in run.printed[-1]
    assert run.printed[-1].rstrip().endswith("Apply complete: 2 created, 1 deleted.")  # mail


def test_rotate_replaces_a_generated_secret_and_keeps_the_old_one(run: Run, cfg: Path) -> None:
    write(cfg, {"orders": hook("orders", format="standard-webhooks")}, secret_grace="12h")
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    old = stored_secret(cfg, "orders")
    code, out, err = run("secret", "rotate", "orders", "-f", str(cfg))
    new = stored_secret(cfg, "orders")
    assert code == 0 and new != old and new.startswith("whsec_"), err
    assert (f"Rotated the secret of orders: {fingerprint_of(cfg, old)} -> "
            f"{fingerprint_of(cfg, new)} (old valid until ") in out
    assert "`webhooks secret reveal orders`" in out and "signatures with both secrets" in out
    show = run("show", "orders", "-f", str(cfg))[1]
    assert f"secret:          {fingerprint_of(cfg, new)}" in show
    assert f"previous secret: {fingerprint_of(cfg, old)} (valid until " in show
    assert "deliveries use:  both" in show
    # The config's grace (12h) was used, and the config still plans clean.
    data = json.loads(run("show", "orders", "-f", str(cfg), "--format", "json")[1])
    assert data["previous_secret_fingerprint"] == fingerprint_of(cfg, old)
    assert run("plan", "-f", str(cfg), "--detailed-exitcode")[0] == 0
    rotated = json.loads(run("secret", "rotate", "orders", "--grace", "0", "--format", "json",
                             "-f", str(cfg))[1])
    assert rotated["previous_secret_fingerprint"] is None
    assert rotated["secret_fingerprint"] == fingerprint_of(cfg, stored_secret(cfg, "orders"))
    assert not any(s in text for s in (old, new) for text in run.printed)


def test_rotate_refuses_a_declared_secret_an_email_and_bad_graces(
        run: Run, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SECRET", SIBS_SECRET)
    write(cfg, {"orders": hook("orders", secret="${env:ORDERS_SECRET}"),
                "plain": hook("plain"),
                "mail": {"type": "email", "email": "o@shop.example", "notifications": ["mbway"]}})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    code, _, err = run("secret", "rotate", "orders", "-f", str(cfg))
    assert code == 1 and "declares its secret in" in err and "(env:ORDERS_SECRET)" in err
    assert "webhooks secret generate --format sibs" in err
    assert stored_secret(cfg, "orders") == SIBS_SECRET  # nothing happened
    code, _, err = run("secret", "rotate", "mail", "-f", str(cfg))
    assert code == 1 and "e-mail webhook: it has no secret to rotate" in err
    for grace, message in (("31d", "too long"), ("soon", "is not a duration"),
                           ("-1", "is not a duration")):
        code, _, err = run("secret", "rotate", "plain", "--grace", grace, "-f", str(cfg))
        assert code == 1 and message in err, err
    code, _, err = run("secret", "rotate", "nope", "-f", str(cfg))
    assert code == 1 and "no webhook named 'nope'" in err


# --- a declared secret's rotation through the config ---------------------------------------


def test_a_changed_secret_plans_old_to_new_with_the_grace_and_show_prints_both(
        run: Run, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SECRET", WHSEC)
    write(cfg, {"orders": hook("orders", format="standard-webhooks",
                               secret="${env:ORDERS_SECRET}", secret_grace="2d")})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    monkeypatch.setenv("ORDERS_SECRET", OTHER_WHSEC)
    old, new = fingerprint_of(cfg, WHSEC), fingerprint_of(cfg, OTHER_WHSEC)
    text = run("plan", "-f", str(cfg))[1]
    assert f"~ secret: {old} -> {new} (old valid until 20" in text
    data = json.loads(run("plan", "-f", str(cfg), "--format", "json")[1])
    [field] = data["changes"][0]["fields"]
    assert field["grace"]["seconds"] == 2 * 86400 and field["grace"]["previous_valid_until"]
    assert run("plan", "-f", str(cfg), "--out", str(cfg.parent / "plan.json"))[0] == 0
    assert run("apply", str(cfg.parent / "plan.json"), "-f", str(cfg))[0] == 0
    show = run("show", "orders", "-f", str(cfg))[1]
    assert f"previous secret: {old} (valid until " in show and f"secret:          {new}" in show
    with office(cfg) as bo:
        got = bo.webhooks.find_webhook_by_name("demo", "orders")
    assert got["previous_secret_valid_until"] > got["updated_at"]


def test_a_format_change_has_no_grace_and_says_so(
        run: Run, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_SECRET", SIBS_SECRET)
    write(cfg, {"orders": hook("orders", secret="${env:ORDERS_SECRET}")})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    monkeypatch.setenv("ORDERS_SECRET", WHSEC)
    write(cfg, {"orders": hook("orders", secret="${env:ORDERS_SECRET}",
                               format="standard-webhooks")})
    text = run("plan", "-f", str(cfg))[1]
    assert "(the old one stops working at once: no grace)" in text
    monkeypatch.setenv("ORDERS_SECRET", OTHER_SIBS_SECRET)
    write(cfg, {"orders": hook("orders", secret="${env:ORDERS_SECRET}", secret_grace="0")})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0


# --- renames -----------------------------------------------------------------------------------


def test_a_rename_plans_in_every_format_and_apply_keeps_the_webhook(run: Run,
                                                                    cfg: Path) -> None:
    write(cfg, {"orders": hook("orders")})
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    with office(cfg) as bo:
        before = bo.webhooks.find_webhook_by_name("demo", "orders")
        bo.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})
    secret = stored_secret(cfg, "orders")

    # Without renamed_from: a delete and a create, and a warning in every format.
    write(cfg, {"orders-v2": hook("orders")})
    hint = "'orders-v2' looks like a rename of 'orders'"
    assert hint in run("plan", "-f", str(cfg))[1]
    assert hint in run("plan", "-f", str(cfg), "--format", "markdown")[1]
    data = json.loads(run("plan", "-f", str(cfg), "--format", "json")[1])
    assert [w["kind"] for w in data["warnings"]] == ["rename"]

    write(cfg, {"orders-v2": hook("orders", renamed_from=["orders"], description="v2")})
    text = run("plan", "-f", str(cfg))[1]
    assert "  ~ rename orders -> orders-v2 (url)\n" in text
    assert '~ name:        "orders" -> "orders-v2"' in text and hint not in text
    assert "| `~` rename | `orders -> orders-v2` |" in run("plan", "-f", str(cfg),
                                                          "--format", "markdown")[1]
    [change] = json.loads(run("plan", "-f", str(cfg), "--format", "json")[1])["changes"]
    assert (change["action"], change["renamed_from"]) == ("update", "orders")
    saved = str(cfg.parent / "rename.json")
    assert run("plan", "-f", str(cfg), "--out", saved)[0] == 0
    code, out, _ = run("apply", saved, "-f", str(cfg))
    assert code == 0 and "renamed from orders (same id, secret and delivery history)" in out
    with office(cfg) as bo:
        after = bo.webhooks.find_webhook_by_name("demo", "orders-v2")
        assert len(bo.deliveries.list_deliveries("demo", after["id"])) == 1
    assert after["id"] == before["id"] and stored_secret(cfg, "orders-v2") == secret
    assert run("plan", "-f", str(cfg), "--detailed-exitcode")[0] == 0


def test_renamed_from_is_checked(run: Run, cfg: Path) -> None:
    write(cfg, {"a": hook("a", renamed_from=["a"]),
                "b": hook("b", renamed_from=["a", "old"]),
                "c": hook("c", renamed_from=["old"]),
                "d": hook("d", renamed_from=["Not A Name"]),
                "e": {"type": "email", "email": "e@shop.example", "notifications": ["mbway"],
                      "secret_grace": "1d"},
                "f": hook("f", secret_grace="31d"),
                # hostile values: each a clear message at its place, never a traceback
                "g": hook("g", secret_grace="1d\u202e", renamed_from=["x\u202e", 1, "y\x00"]),
                "h": hook("h", secret_grace=True, renamed_from=[]),
                "i": hook("i", secret_grace=2592001, renamed_from="old"),
                "j": hook("j", secret_grace=-1, renamed_from=[f"n{i}" for i in range(17)]),
                "k": hook("k", secret_grace="9" * 400),
                "ok": hook("ok", secret_grace=0, renamed_from=["older"])})
    code, out, err = run("validate", "--offline", "-f", str(cfg))
    assert code == 1 and err == ""
    for message in ("webhooks.a.renamed_from[0]: 'a' is this webhook's own name",
                    "webhooks.b.renamed_from[0]: 'a' is a webhook this config declares",
                    "webhooks.c.renamed_from[0]: 'old' is in the renamed_from of 'b' too",
                    "webhooks.d.renamed_from[0]: invalid webhook name 'Not A Name'",
                    "webhooks.e.secret_grace: not allowed for a webhook of type email",
                    "webhooks.f.secret_grace: '31d' is too long",
                    "webhooks.g.secret_grace: '1d\\u202e' is not a duration",
                    "webhooks.g.renamed_from[0]: invalid webhook name 'x\\u202e'",
                    "webhooks.g.renamed_from[1]: expected text, got the number 1",
                    "webhooks.g.renamed_from[2]: invalid webhook name 'y\\x00'",
                    "webhooks.h.secret_grace: expected text or an integer, got the boolean",
                    "webhooks.h.renamed_from: must list at least one old name",
                    "webhooks.i.secret_grace: 2592001 seconds is out of range",
                    "webhooks.i.renamed_from: expected a list",
                    "webhooks.j.secret_grace: -1 seconds is out of range",
                    "webhooks.j.renamed_from: lists more than 16 names",
                    "webhooks.k.secret_grace: '999"):
        assert message in out, (message, out)
    assert "webhooks.ok." not in out and "Traceback" not in out

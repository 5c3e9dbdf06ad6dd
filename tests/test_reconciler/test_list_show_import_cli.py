"""`webhooks list`, `show` and `import` end to end on the embedded backoffice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.providers.embedded import EmbeddedProvider
from tests.support.cli import Run
from tests.support.inventory import (
    ALL,
    CRED_URL,
    CRED_URL_REDACTED,
    CRED_URL_VARIABLE,
    OWNED,
    OWNER,
    PASSWORD,
    SECRET,
    UNMANAGED,
    seed,
)
from tests.support.secrets import CRED_20001, WHSEC


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """The config path (never written: list, show and import need no config file)."""
    async def setup() -> None:
        provider = EmbeddedProvider.open(tmp_path / ".webhooks")
        try:
            await seed(provider)
        finally:
            await provider.aclose()

    asyncio.run(setup())
    return tmp_path / "webhooks.yaml"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    runner = Run(capsys)
    yield runner
    everything = "".join(runner.printed)
    for secret in (SECRET, WHSEC, PASSWORD):
        assert secret not in everything


def table_names(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:]]


def test_list_table_and_each_filter(cfg: Path, run: Run) -> None:
    f = ("-f", str(cfg))
    code, out, _ = run("list", *f)
    assert code == 0 and out.splitlines()[0].split()[:3] == ["NAME", "TYPE", "TARGET"]
    assert table_names(out) == ALL and CRED_URL_REDACTED in out
    assert not cfg.exists()  # the config file is not needed, nor created
    cases = {
        ("--credential", CRED_20001): ["legacy", "orders-backend", "porto-kiosk"],
        ("--notification", "xpay"): ["refunds"],
        ("--type", "email"): ["10001", "lisbon-mail"],
        ("--webhook", "legacy.shop"): ["legacy"],
        ("--owner", OWNER): OWNED,
        ("--owner", "kiosk-team"): ["porto-kiosk"],
        ("--unmanaged",): UNMANAGED,
        ("--credential", CRED_20001, "--type", "url", "--notification", "mbway",
         "--unmanaged"): ["legacy"],
        ("--type", "url", "--owner", OWNER): ["orders-backend", "refunds"],
    }
    for args, expected in cases.items():
        code, out, _ = run("list", *f, *args)
        assert code == 0 and table_names(out) == expected, args
    code, out, _ = run("list", *f, "--type", "email", "--notification", "xpay")
    assert code == 0 and out == "No webhooks.\n"


def test_list_json(cfg: Path, run: Run) -> None:
    code, out, _ = run("list", "-f", str(cfg), "--format", "json", "--owner", OWNER)
    assert code == 0
    data = json.loads(out)
    assert [d["name"] for d in data] == OWNED
    assert next(d for d in data if d["name"] == "refunds")["url"] == CRED_URL_REDACTED
    assert all(d["labels"]["owner"] == OWNER and d["id"].startswith("wh_") for d in data)
    code, out, _ = run("list", "-f", str(cfg), "--format", "json", "--type", "url",
                       "--webhook", "nothing-matches")
    assert code == 0 and json.loads(out) == []


def test_list_errors(cfg: Path, run: Run) -> None:
    code, _, err = run("list", "-f", str(cfg), "--owner", OWNER, "--unmanaged")
    assert code == 2 and "--owner and --unmanaged are mutually exclusive" in err
    code, out, err = run("list", "-f", str(cfg), "--credential", "nope")
    assert code == 1 and out == ""
    assert err == "Error: the backoffice refused to list webhooks: credential 'nope' is not one " \
                  "of this merchant's\n"
    code, _, err = run("list", "-f", str(cfg), "--notification", "bogus")
    assert code == 1 and "unknown notification type 'bogus'" in err
    code, _, err = run("list", "-f", str(cfg), "--type", "sms")
    assert code == 2 and "'sms' is not one of 'url', 'email'" in err


def test_show_text_json_and_unknown(cfg: Path, run: Run) -> None:
    code, out, _ = run("show", "refunds", "-f", str(cfg))
    assert code == 0 and out.startswith("Webhook refunds\n")
    assert f"url:             {CRED_URL_REDACTED}\n" in out
    assert "format:          standard-webhooks" in out and "prevent_destroy: yes" in out
    code, out, _ = run("show", "orders-backend", "-f", str(cfg), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["name"] == "orders-backend" and data["deliveries"] == []
    assert data["secret_fingerprint"].startswith("sha256:")
    code, out, err = run("show", "orders", "-f", str(cfg))
    assert code == 1 and out == ""
    assert "no webhook named 'orders' in the embedded backoffice" in err
    assert "Did you mean 'orders-backend'?" in err


def test_import_to_stdout_then_to_a_file_that_plans_clean(
    cfg: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = ("-f", str(cfg))
    code, out, err = run("import", *f)
    assert code == 1 and "holds webhooks of 2 owners" in err and "--owner NAME" in err
    code, text, err = run("import", *f, "--owner", OWNER)
    assert code == 0 and text.startswith("# yaml-language-server")
    assert f"set {CRED_URL_VARIABLE} to it" in err

    imported = cfg.parent / "imported.yaml"
    code, out, err = run("import", *f, "--owner", OWNER, "-o", str(imported))
    assert code == 0 and out == "" and imported.read_text() == text
    assert f'Wrote 3 webhooks of owner "{OWNER}" to {imported}.' in err
    assert "embedded backoffice is found beside" not in err  # same directory, same backoffice
    load_config(imported, secrets="optional")  # valid as written, without the URL's variable

    code, _, err = run("import", *f, "--owner", OWNER, "-o", str(imported))
    assert code == 1 and "already exists: nothing was written (--force overwrites it)" in err
    imported.write_text("# my edits\n")
    code, _, _ = run("import", *f, "--owner", OWNER, "-o", str(imported), "--force")
    assert code == 0 and imported.read_text() == text

    code, _, err = run("plan", "-f", str(imported))
    assert code == 1 and f"environment variable {CRED_URL_VARIABLE} is not set" in err
    monkeypatch.setenv(CRED_URL_VARIABLE, CRED_URL)
    code, out, _ = run("plan", "-f", str(imported), "--detailed-exitcode")
    assert code == 0 and "No changes. The backoffice matches the config (3 webhooks)." in out


def test_import_unmanaged_plans_an_adoption_that_apply_performs(
    cfg: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CRED_URL_VARIABLE, CRED_URL)
    code, _, err = run("import", "-f", str(cfg), "--unmanaged")
    assert code == 1 and "share no owner" in err and "--owner NAME" in err
    code, _, err = run("import", "-f", str(cfg), "--all", "--unmanaged")
    assert code == 2 and "--all and --include-unmanaged are mutually exclusive" in err

    code, _, err = run("import", "-f", str(cfg), "--unmanaged", "--owner", OWNER,
                       "-o", str(cfg))
    assert code == 0
    assert "Note: 2 webhooks are not managed by owner" in err and "--adopt" in err
    assert "it also holds the 3 webhooks that owner" in err
    code, out, _ = run("plan", "-f", str(cfg), "--detailed-exitcode")
    assert code == 1 and "not managed by webhooks-reconciler" in out
    code, out, _ = run("plan", "-f", str(cfg), "--adopt", "--detailed-exitcode")
    assert code == 2
    assert "~ adopt 10001" in out and "~ adopt legacy" in out
    assert "Plan: 0 to create, 2 to update, 0 to replace, 0 to delete; 3 unchanged" in out
    code, out, _ = run("apply", "-f", str(cfg), "--adopt", "--auto-approve")
    assert code == 0
    code, out, _ = run("plan", "-f", str(cfg), "--detailed-exitcode")
    assert code == 0 and "(5 webhooks)" in out
    code, out, _ = run("list", "-f", str(cfg), "--unmanaged")
    assert out == "No webhooks.\n"


def test_import_all_warns_about_other_owners(cfg: Path, run: Run) -> None:
    code, out, err = run("import", "-f", str(cfg), "--all", "--owner", OWNER)
    assert code == 0 and "\n  porto-kiosk:\n" in out
    assert "Warning: adopting takes over webhooks that other owners' configs manage: " \
           "porto-kiosk." in err


def test_import_elsewhere_says_which_backoffice_a_plan_would_use(
    cfg: Path, run: Run, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    out_file = tmp_path / "other" / "webhooks.yaml"
    code, _, err = run("import", "-f", str(cfg), "--owner", "kiosk-team", "-o", str(out_file))
    assert code == 0 and "embedded backoffice is found beside the config file" in err
    assert str(tmp_path / "other" / ".webhooks") in err


def test_help_shows_an_example_per_command(run: Run) -> None:
    for command, example in (("list", "webhooks list --type url"),
                             ("show", "webhooks show orders-backend"),
                             ("import", "webhooks import -o webhooks.yaml")):
        code, out, _ = run(command, "--help")
        assert code == 0 and example in out and "-f, --file" in out

"""One config for sandbox and production (`environments:`, --environment or
WEBHOOKS_ENVIRONMENT), and the bulk-delete guard set in the config (`safety:`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import jsonschema_rs
import pytest

from reconciler.config import load_config, read_config, schema
from reconciler.errors import ConfigError
from reconciler.plan import planfile
from tests.support.cli import Run
from tests.support.config import write

CONFIG = """\
    version: 1
    owner: payments-team
    defaults:
      application: merchant
    webhooks:
      orders:
        type: url
        url: https://api.shop.example/hooks/orders
        notifications: [mbway]
      mail:
        type: email
        email: ops@shop.example
        notifications: [mbway]
    environments:
      sandbox:
        description: The gateway's test backoffice
        webhooks:
          orders:
            url: https://sandbox.shop.example/hooks/orders
            application: store:LIS-01
            notifications: [mbway, xpay]
            enabled: false
      production: {}
    """


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


def test_each_environment_gets_its_fields(tmp_path: Path) -> None:
    cfg = write(tmp_path, CONFIG)
    sandbox = load_config(cfg, environment="sandbox")
    orders = sandbox.webhooks["orders"]
    assert (orders.url, orders.application, orders.notifications, orders.enabled) == (
        "https://sandbox.shop.example/hooks/orders", "store:LIS-01", ("mbway", "xpay"), False)
    assert sandbox.environment == "sandbox" and sandbox.webhooks["mail"].email == "ops@shop.example"
    production = load_config(cfg, environment="production")
    assert production.webhooks["orders"].url == "https://api.shop.example/hooks/orders"
    assert production.webhooks["orders"].enabled is True
    assert production.digest == sandbox.digest  # one file


def test_an_environment_must_be_chosen_and_known(tmp_path: Path) -> None:
    cfg = write(tmp_path, CONFIG)
    with pytest.raises(ConfigError) as none:
        load_config(cfg)
    assert str(none.value.problems[0]) == (
        f"{cfg}:14:1: environments: the config declares environments (sandbox, production): "
        "choose one with --environment NAME or WEBHOOKS_ENVIRONMENT")
    with pytest.raises(ConfigError) as typo:
        load_config(cfg, environment="sandbx")
    assert "unknown environment 'sandbx' (--environment or WEBHOOKS_ENVIRONMENT); did you " \
           "mean 'sandbox'?" in str(typo.value.problems[0])
    plain = write(tmp_path / "plain", "version: 1\nowner: t\nwebhooks: {}\n")
    with pytest.raises(ConfigError, match="the config declares no environments"):
        load_config(plain, environment="production")
    with pytest.raises(ConfigError) as hostile:
        load_config(cfg, environment="prod\u202e\x00uction")
    message = str(hostile.value.problems[0])
    assert "\u202e" not in message and "\x00" not in message and "\\u202e" in message


def test_validate_checks_every_environment_at_the_line_that_set_it(tmp_path: Path) -> None:
    cfg = write(tmp_path, CONFIG.replace(
        "            enabled: false\n",
        "            enabled: false\n            email: sandbox@shop.example\n"
        "      staging:\n        webhooks:\n          orders:\n"
        "            url: http://staging.shop.example/hooks\n"
        "          ordres:\n            enabled: false\n"))
    report = read_config(cfg, secrets="optional", every_environment=True)
    assert [str(p) for p in report.problems] == [
        f"{cfg}:23:9: environments.sandbox.webhooks.orders.email: not allowed for a webhook "
        "of type url",
        f"{cfg}:27:14: environments.staging.webhooks.orders.url: must use https; plain http is "
        "allowed only to loopback (127.0.0.0/8, ::1, localhost), not staging.shop.example",
        f"{cfg}:28:7: environments.staging.webhooks.ordres: no webhook named 'ordres' under "
        "the top-level `webhooks` (an environment changes the fields of declared webhooks); "
        "did you mean 'orders'?",
    ]
    assert report.config is None


@pytest.mark.parametrize("override, message", [
    ("            urll: https://x.example/\n", "unknown key 'urll'; did you mean 'url'?"),
    ("            enabled: yes\n", "'yes' is a boolean in YAML 1.1"),
    ("            prevent_destroy: maybe\n", "expected true or false"),
    ("            type: fax\n", "'fax' is not a webhook type"),
    ("            secret: plain-text-key\n", "a literal secret is not allowed"),
    ("            enabled: true\n            enabled: false\n", "duplicate key 'enabled'"),
])
def test_a_bad_override_is_reported(tmp_path: Path, override: str, message: str) -> None:
    cfg = write(tmp_path, CONFIG.replace("            enabled: false\n", override))
    report = read_config(cfg, secrets="optional", every_environment=True)
    assert report.config is None
    assert any(message in p.message and ("environments" in p.message or p.line >= 16)
               for p in report.problems), [str(p) for p in report.problems]
    assert all("plain-text-key" not in str(p) for p in report.problems)


@pytest.mark.parametrize("name", ["Sand Box", "sand\u202ebox", "-x"])
def test_an_environment_name_is_a_name(tmp_path: Path, name: str) -> None:
    cfg = write(tmp_path, CONFIG.replace("      production: {}\n", f'      "{name}": {{}}\n'))
    report = read_config(cfg, secrets="optional", every_environment=True)
    assert report.config is None
    assert "invalid environment name" in report.problems[0].message


def test_plans_name_their_environment_and_apply_keeps_to_it(run: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path, CONFIG)
    code, out, err = run("plan", "-f", str(cfg))
    assert code == 1 and "choose one with --environment NAME" in err
    code, out, _ = run("plan", "-f", str(cfg), "--environment", "sandbox")
    # the backoffice first, then the environment
    assert code == 0 and out.startswith("Backoffice: ") and '\nEnvironment "sandbox".\n' in out
    assert '+ url:           "https://sandbox.shop.example/hooks/orders"' in out
    code, out, _ = run("plan", "-f", str(cfg), "--environment", "sandbox", "--format",
                       "markdown")
    assert "### Webhooks plan for `payments-team` in `sandbox`" in out
    assert out.startswith("<!-- webhooks-reconciler:plan environment=sandbox -->\n")
    saved = tmp_path / "plan.json"
    code, out, _ = run("plan", "-f", str(cfg), "--environment", "sandbox", "--format", "json",
                       "--out", str(saved))
    assert json.loads(out)["environment"] == "sandbox"
    assert planfile.load(saved).environment == "sandbox"

    code, _, err = run("apply", "-f", str(cfg), "--environment", "production", str(saved))
    assert code == 1 and 'made for environment "sandbox"' in err and "nothing was applied" in err
    assert run("plan", "-f", str(cfg), "--environment", "production",
               "--detailed-exitcode")[0] == 2  # nothing was applied
    code, out, err = run("apply", "-f", str(cfg), str(saved))  # the plan's own environment
    assert code == 0, err
    code, out, _ = run("plan", "-f", str(cfg), "--environment", "production")
    assert '"https://sandbox.shop.example/hooks/orders" -> "https://api.shop.example/' in out


def test_the_environment_variable_chooses_too(run: Run, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path, CONFIG)
    monkeypatch.setenv("WEBHOOKS_ENVIRONMENT", "production")
    code, out, _ = run("plan", "-f", str(cfg))
    assert code == 0 and out.startswith("Backoffice: ") and '\nEnvironment "production".' in out
    monkeypatch.setenv("WEBHOOKS_ENVIRONMENT", "prodution")
    code, _, err = run("plan", "-f", str(cfg))
    assert code == 1 and "did you mean 'production'?" in err and "Traceback" not in err


def test_both_schema_engines_agree_on_environments(tmp_path: Path) -> None:
    import yaml

    doc = yaml.safe_load(CONFIG.replace("    ", "", 1).replace("\n    ", "\n"))
    fast = jsonschema_rs.Draft202012Validator(schema())
    slow = jsonschema.Draft202012Validator(schema())
    bad = {**doc, "environments": {"sandbox": {"webhooks": {"orders": {"url": 5}}}}}
    for candidate, valid in ((doc, True), (bad, False)):
        assert fast.is_valid(candidate) is valid
        assert (not list(slow.iter_errors(candidate))) is valid


# --- the bulk-delete guard, set in the config ------------------------------------------------


def guarded(percent: int | None, minimum: int | None, count: int = 4) -> str:
    safety = ""
    if percent is not None or minimum is not None:
        safety = "safety:\n"
        safety += f"  delete_threshold_percent: {percent}\n" if percent is not None else ""
        safety += f"  delete_threshold_min_managed: {minimum}\n" if minimum is not None else ""
    hooks = "".join(f"  h{i}:\n    type: email\n    email: h{i}@shop.example\n"
                    f"    application: merchant\n    notifications: [mbway]\n"
                    for i in range(count))
    return f"version: 1\nowner: payments-team\n{safety}webhooks:\n{hooks or ' {}'}"


def test_the_guard_is_set_in_the_config_and_shown(run: Run, tmp_path: Path) -> None:
    cfg = write(tmp_path, guarded(None, None))
    assert run("apply", "-f", str(cfg), "--auto-approve")[0] == 0
    cfg.write_text(guarded(None, None, count=2))  # 2 of 4 deleted: the default guard is off
    code, out, _ = run("plan", "-f", str(cfg))
    assert code == 0
    assert "Bulk-delete guard: off below 10 managed webhooks (this owner has 4" in out
    cfg.write_text(guarded(25, 2, count=2).replace("webhooks:\n", "webhooks:\n", 1))
    code, out, _ = run("plan", "-f", str(cfg))
    assert code == 1
    assert "2 of 4 managed webhooks (50%) would be deleted or replaced, above the 25% " \
           "safety threshold" in out
    assert "more than 25% of this owner's 4 managed webhooks makes a plan unsafe" in out
    code, out, _ = run("plan", "-f", str(cfg), "--format", "json")
    assert json.loads(out)["safety"] == {"delete_threshold_percent": 25,
                                         "delete_threshold_min_managed": 2}
    cfg.write_text(guarded(50, 2, count=2))  # exactly 50% is allowed
    assert run("plan", "-f", str(cfg))[0] == 0


@pytest.mark.parametrize("value, message", [
    ("101", "must be at most 100, not the number 101"),
    ("-1", "must be at least 0, not the number -1"),
    ('"30"', "expected an integer, got the text '30'"),
    ("true", "expected an integer, got the boolean true"),
    ("1.5", "expected an integer, got the number 1.5"),
    ("99999999999999999999999", "must be at most 100, not the number 99999999999999999999999"),
])
def test_a_bad_threshold_is_an_error_at_its_line(tmp_path: Path, value: str,
                                                 message: str) -> None:
    cfg = write(tmp_path, guarded(None, None).replace(
        "webhooks:\n", f"safety:\n  delete_threshold_percent: {value}\nwebhooks:\n", 1))
    report = read_config(cfg, secrets="optional")
    assert [str(p) for p in report.problems] == [
        f"{cfg}:4:29: safety.delete_threshold_percent: {message}"]
    cfg.write_text(guarded(None, None).replace("webhooks:\n", "safety:\n  percent: 5\nwebhooks:\n"))
    assert "unknown key 'percent'" in str(read_config(cfg, secrets="optional").problems[0])


def test_the_example_applies_to_each_environment(run: Run, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.config import REPO
    from tests.support.secrets import SIBS_SECRET

    monkeypatch.setenv("ORDERS_WEBHOOK_SECRET", SIBS_SECRET)
    for environment, url in (("sandbox", "https://sandbox-api.shop.example/hooks/sibs"),
                             ("production", "https://api.shop.example/hooks/sibs")):
        work = tmp_path / environment  # a backoffice of its own, as each environment has
        work.mkdir()
        cfg = work / "webhooks.yaml"
        shutil.copy(REPO / "examples" / "environments" / "webhooks.yaml", cfg)
        code, out, err = run("apply", "-f", str(cfg), "--environment", environment,
                             "--auto-approve")
        assert code == 0, err
        assert f'\nEnvironment "{environment}".' in out and url in out
        assert run("plan", "-f", str(cfg), "--environment", environment,
                   "--detailed-exitcode")[0] == 0


def test_only_the_chosen_environments_references_are_read(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path, CONFIG.replace(
        "        url: https://api.shop.example/hooks/orders\n",
        "        url: ${env:PRODUCTION_ORDERS_URL}\n"))
    monkeypatch.delenv("PRODUCTION_ORDERS_URL", raising=False)
    sandbox = load_config(cfg, environment="sandbox")  # the sandbox replaces that URL
    assert sandbox.webhooks["orders"].url == "https://sandbox.shop.example/hooks/orders"
    with pytest.raises(ConfigError, match="PRODUCTION_ORDERS_URL is not set"):
        load_config(cfg, environment="production")
    report = read_config(cfg, secrets="optional", every_environment=True)
    assert [p.severity for p in report.problems] == ["warning"]  # validate: each one checked

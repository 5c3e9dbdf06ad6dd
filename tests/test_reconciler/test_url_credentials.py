"""URLs with credentials (a password, or a query string) against a real backoffice, on
both providers: the backoffice returns them redacted with a keyed fingerprint, and the
plan compares by (redaction, fingerprint), so an applied URL plans clean, a changed
password or token is an update shown as a sensitive change, and import still asks for
the URL through ``${env:...}``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from reconciler.apply import apply_plan
from reconciler.config import load_config
from reconciler.importer import import_config
from reconciler.plan import Plan, Sensitive, build_plan
from reconciler.providers import Provider
from reconciler.render.json_ import render_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

pytestmark = pytest.mark.anyio
OWNER = "payments-team"
PASSWORDS = ["Pw-plan-5d0e7a91c3", "Pw-plan-e84b22f6a0"]
SHOWN = "https://ops:***@Hooks.Shop.example/basic"


def url_with(password: str) -> str:
    # Mixed-case host: the backoffice keeps it as given, the plan normalises it.
    return f"https://ops:{password}@Hooks.Shop.example/basic"


def write_config(path: Path, password: str) -> Path:
    doc = {"version": 1, "owner": OWNER, "defaults": {"application": "merchant"},
           "webhooks": {"basic": {"type": "url", "url": "${env:BASIC_URL}",
                                  "notifications": ["mbway"]}}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


async def plan_for(provider: Provider, cfg: Path, monkeypatch: pytest.MonkeyPatch,
                   password: str) -> Plan:
    monkeypatch.setenv("BASIC_URL", url_with(password))
    config = load_config(cfg, catalog=await provider.catalog())
    return build_plan(config, await provider.fetch(), fingerprints=await provider.fingerprints())


def outputs(plan: Plan) -> str:
    return "\n".join([render_text(plan, color=False), render_markdown(plan),
                      render_json(plan), repr(plan), json.dumps(plan.data)])


async def test_a_url_password_plans_clean_after_apply_and_a_new_one_is_an_update(
        provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(tmp_path / "webhooks.yaml", PASSWORDS[0])
    plan = await plan_for(provider, cfg, monkeypatch, PASSWORDS[0])
    assert [str(c.action) for c in plan.changes] == ["create"]
    assert (await apply_plan(plan, provider)).ok

    (remote,) = await provider.fetch()
    fingerprints = await provider.fingerprints()
    assert remote.url == SHOWN and remote.url_fingerprint == fingerprints.url(url_with(
        PASSWORDS[0]))
    assert PASSWORDS[0] not in repr(remote)
    steady = await plan_for(provider, cfg, monkeypatch, PASSWORDS[0])
    assert not steady.has_changes, steady.summary_line()

    rotated = await plan_for(provider, cfg, monkeypatch, PASSWORDS[1])
    (change,) = rotated.changes
    assert str(change.action) == "update" and [f.field for f in change.fields] == ["url"]
    before, after = change.fields[0].before, change.fields[0].after
    assert isinstance(before, Sensitive) and isinstance(after, Sensitive)
    assert before.redacted == after.redacted == SHOWN.replace("Hooks.Shop", "hooks.shop")
    assert before.fingerprint != after.fingerprint
    text = outputs(rotated) + outputs(steady) + outputs(plan)
    assert "(sensitive value changed)" in text
    for password in PASSWORDS:
        assert password not in text
    report = await apply_plan(rotated, provider)
    assert report.ok and PASSWORDS[1] not in json.dumps(report.data)
    (remote,) = await provider.fetch()
    assert remote.url == SHOWN and remote.version == 2
    assert not (await plan_for(provider, cfg, monkeypatch, PASSWORDS[1])).has_changes
    # The old password is now the change, in the other direction.
    assert (await plan_for(provider, cfg, monkeypatch, PASSWORDS[0])).has_changes


async def test_import_asks_for_a_url_with_credentials_through_the_environment(
        provider: Provider) -> None:
    await provider.create({"name": "basic", "type": "url", "url": url_with(PASSWORDS[0]),
                           "application": "merchant", "notifications": ["mbway"]},
                          idempotency_key="import-creds")
    result = import_config(await provider.fetch(), fingerprints=await provider.fingerprints(),
                           selection="unmanaged", owner=OWNER)
    assert result.url_variables == {"BASIC_URL": "basic"}
    assert "url: ${env:BASIC_URL}" in result.text and SHOWN in result.text
    assert PASSWORDS[0] not in result.text


TOKENS = ["tok-q-3b9c1e77d2", "tok-q-a40f58c6e1"]


def query_url(token: str, host: str = "Hooks.Shop.example") -> str:
    return f"https://{host}/hook?token={token}&v=2"


async def test_a_query_string_is_a_credential_in_plans_and_import(
        provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(tmp_path / "webhooks.yaml", "")
    monkeypatch.setenv("BASIC_URL", query_url(TOKENS[0]))
    plan = build_plan(load_config(cfg, catalog=await provider.catalog()), [],
                      fingerprints=await provider.fingerprints())
    (create,) = plan.changes
    target = create.after["url"] if create.after else None
    assert isinstance(target, Sensitive) and target.redacted == "https://hooks.shop.example/hook?***"
    assert (await apply_plan(plan, provider)).ok
    (remote,) = await provider.fetch()
    assert remote.url == "https://Hooks.Shop.example/hook?***"
    assert remote.url_fingerprint == (await provider.fingerprints()).url(query_url(TOKENS[0]))
    # The host respelt is the same URL (the fingerprint is of the canonical form) ...
    monkeypatch.setenv("BASIC_URL", query_url(TOKENS[0], host="hooks.shop.EXAMPLE"))
    steady = build_plan(load_config(cfg), await provider.fetch(),
                        fingerprints=await provider.fingerprints())
    assert not steady.has_changes, steady.summary_line()
    # ... a new token is an update that shows neither token.
    monkeypatch.setenv("BASIC_URL", query_url(TOKENS[1]))
    rotated = build_plan(load_config(cfg), await provider.fetch(),
                         fingerprints=await provider.fingerprints())
    (change,) = rotated.changes
    assert [f.field for f in change.fields] == ["url"] and change.fields[0].sensitive
    text = outputs(plan) + outputs(steady) + outputs(rotated)
    assert "(sensitive value changed)" in text and "?***" in text
    for token in TOKENS:
        assert token not in text and token not in repr(remote)
    assert (await apply_plan(rotated, provider)).ok
    result = import_config(await provider.fetch(), fingerprints=await provider.fingerprints(),
                           owner=OWNER)
    assert result.url_variables == {"BASIC_URL": "basic"}
    assert "url: ${env:BASIC_URL}" in result.text and "hook?***" in result.text
    for token in TOKENS:
        assert token not in result.text

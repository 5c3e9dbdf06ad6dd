"""Plan files: atomic save, validated load with clear errors, stale and drift checks."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from contract.fingerprints import Fingerprints
from reconciler import plan as planner
from reconciler.errors import PlanError, ReconcilerError
from reconciler.plan.planfile import InvalidPlanFile, check_stale, compare, load, save
from reconciler.render.json_ import render_json
from tests.support.plan_samples import (
    FINGERPRINTS,
    FORBIDDEN,
    NOW,
    OTHER_SECRET_VALUE,
    SECRET_VALUE,
    build_plan,
    config,
    remote_for,
    representative,
    secret,
    secret_fingerprint,
    spec,
)


@pytest.fixture
def saved_path(tmp_path: Path) -> Path:
    cfg, actual = representative()
    path = tmp_path / "plan.json"
    save(build_plan(cfg, actual, now=NOW), path)
    return path


def test_save_writes_the_json_rendering_atomically(tmp_path: Path, saved_path: Path) -> None:
    cfg, actual = representative()
    assert saved_path.read_text(encoding="utf-8") == render_json(
        build_plan(cfg, actual, now=NOW))
    assert stat.S_IMODE(saved_path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["plan.json"]  # no temp file left behind
    text = saved_path.read_text(encoding="utf-8")
    for value in FORBIDDEN:
        assert value not in text


def test_save_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")
    save(build_plan(config(spec("a")), []), path)
    assert load(path).changes[0].name == "a"


def test_save_into_a_missing_directory_is_a_plan_error(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "plan.json"
    with pytest.raises(PlanError, match=f"{path}: cannot write the plan file"):
        save(build_plan(config(), []), path)


def test_load_round_trip(saved_path: Path) -> None:
    saved = load(saved_path)
    cfg, actual = representative()
    plan = build_plan(cfg, actual, now=NOW)
    assert saved.path == saved_path and saved.owner == plan.owner
    assert saved.config_digest == plan.config_digest and saved.safe is False
    assert [(c.action, c.name) for c in saved.changes] == [
        (str(c.action), c.name) for c in plan.changes
    ]
    assert saved.options == plan.options
    create = saved.changes[1]
    assert create.name == "orders-backend" and create.absent and create.expected_id is None
    delete = saved.changes[-1]
    assert not delete.absent and delete.expected_version == 3
    assert saved.data == plan.data


def test_expected_secrets_are_only_those_the_config_sends(saved_path: Path) -> None:
    assert load(saved_path).expected_secrets() == {
        "orders-backend": secret_fingerprint(SECRET_VALUE),
        "refunds-hook": secret_fingerprint(OTHER_SECRET_VALUE),
    }


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(InvalidPlanFile, match=f"{path}: cannot read the plan file"):
        load(path)


def test_load_corrupt_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{\n  "format_version": "1",\n  oops\n}')
    with pytest.raises(InvalidPlanFile, match=rf"^{path}:3:3: not a plan file \(invalid JSON"):
        load(path)


def test_load_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidPlanFile, match="not UTF-8"):
        load(path)


@pytest.mark.parametrize("content", ['{"name": "x"}', "[1, 2]", '"plan"'])
def test_load_foreign_json(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(InvalidPlanFile, match=f"{path}: not a webhooks-reconciler plan file"):
        load(path)


@pytest.mark.parametrize(("version", "message"), [
    # Version 1 published unkeyed fingerprints, and named no backoffice, no drift, no
    # environment: its plans are refused, to be made again.
    ("1", "format_version '1' was made by an older webhooks: make the plan again"),
    ("3", "format_version '3' was made by a newer webhooks: make the plan again"),
    ("two", "format_version 'two' is not supported"),
])
def test_load_other_format_version(saved_path: Path, version: str, message: str) -> None:
    data = json.loads(saved_path.read_text())
    assert data["format_version"] == "2"
    data["format_version"] = version
    saved_path.write_text(json.dumps(data))
    with pytest.raises(InvalidPlanFile, match=message):
        load(saved_path)


def test_an_older_plan_file_is_refused_with_the_way_out(saved_path: Path) -> None:
    # Format 1 recorded no backoffice: applying one could change the wrong backoffice.
    data = json.loads(saved_path.read_text())
    data["format_version"] = "1"
    del data["backoffice"]
    saved_path.write_text(json.dumps(data))
    with pytest.raises(InvalidPlanFile) as caught:
        load(saved_path)
    message = str(caught.value)
    assert "format_version '1' was made by an older webhooks" in message
    assert "this webhooks reads '2'" in message and "records its backoffice" in message
    assert "webhooks plan --out FILE" in message


def test_load_schema_violations_are_listed(saved_path: Path) -> None:
    data = json.loads(saved_path.read_text())
    data["changes"][0]["action"] = "explode"
    data["changes"][2]["precondition"] = {"version": 1}
    del data["owner"]
    saved_path.write_text(json.dumps(data))
    with pytest.raises(InvalidPlanFile) as info:
        load(saved_path)
    message = str(info.value)
    assert message.startswith(f"{saved_path}: invalid plan file:\n")
    assert "'owner' is a required property" in message
    assert "$.changes[0].action" in message and "$.changes[2].precondition" in message
    assert isinstance(info.value, ReconcilerError)  # exits 1 with the message, no traceback


def test_check_stale_accepts_an_unchanged_backoffice(saved_path: Path) -> None:
    _, actual = representative()
    assert check_stale(load(saved_path), actual, FINGERPRINTS) == []


def test_check_stale_reports_every_drift(saved_path: Path) -> None:
    _, actual = representative()
    by_name = {r.name: r for r in actual}
    by_name["porto-mail"] = replace(by_name["porto-mail"], version=4)  # edited since
    by_name["refunds-hook"] = replace(by_name["refunds-hook"], id="wh_new")  # re-created
    del by_name["stale-hook"]  # deleted by someone else
    by_name["orders-backend"] = remote_for(spec("orders-backend"))  # created meanwhile
    reasons = check_stale(load(saved_path), by_name.values(), FINGERPRINTS)
    assert len(reasons) == 4
    text = "\n".join(reasons)
    assert "orders-backend: the plan creates it, but a webhook of that name exists now" in text
    assert "porto-mail: changed since the plan (version 3 -> 4)" in text
    assert "refunds-hook: the plan saw" in text and "re-created since (wh_new)" in text
    assert "stale-hook: the plan saw" in text and "no longer exists" in text


def test_compare_accepts_the_same_plan(saved_path: Path) -> None:
    cfg, actual = representative()
    assert compare(load(saved_path), build_plan(cfg, actual)) == []


def test_a_plan_made_under_another_fingerprint_key_is_refused(saved_path: Path) -> None:
    """The backoffice's fingerprint key changed since the plan (its database took a new
    server key before any secret was sealed): the saved fingerprints no longer compare,
    so the plan is stale, never applied on a guess."""
    cfg, actual = representative()
    fresh = planner.build_plan(cfg, actual, fingerprints=Fingerprints(bytes(32)))
    reasons = compare(load(saved_path), fresh)
    assert "orders-backend: the planned create differs now (secret)" in reasons
    assert any(r.startswith("refunds-hook: the planned update differs now (")
               and "url" in r and "secret" in r for r in reasons)


def test_compare_notices_a_rotated_secret_and_config_edits(saved_path: Path) -> None:
    cfg, actual = representative()
    webhooks = dict(cfg.webhooks)
    webhooks["orders-backend"] = replace(webhooks["orders-backend"],
                                         secret=secret("a-different-secret"))
    webhooks["brand-new"] = spec("brand-new")
    del webhooks["lisbon-store-mail"]
    edited = replace(cfg, webhooks=webhooks, digest="sha256:" + "cd" * 32)
    reasons = compare(load(saved_path), build_plan(edited, actual))
    assert reasons == [
        "the config file changed since the plan was made",
        "brand-new: now needs a create, which the plan does not hold",
        "lisbon-store-mail: the plan would create it; that is no longer needed",
        "orders-backend: the planned create differs now (secret)",
    ]
    for value in FORBIDDEN:
        assert value not in "\n".join(reasons)


def test_compare_notices_an_action_change(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    remote = remote_for(spec("w"))
    save(build_plan(config(spec("w", description="x")), [remote]), path)
    fresh = build_plan(config(spec("w", type="email", email="w@shop.example")), [remote])
    assert compare(load(path), fresh) == ["w: the plan would update it; now it needs a replace"]

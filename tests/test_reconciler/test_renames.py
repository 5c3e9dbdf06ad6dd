"""Renames and rotations through each provider (embedded, and the HTTP API in-process; on
SQLite and PostgreSQL): a rename keeps the webhook's id, secret and delivery history, and
a rotation keeps the old secret valid; the planner's rename rules, without a provider."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler import plan as planner
from reconciler.apply import apply_plan
from reconciler.errors import PlanError, PreconditionFailed
from reconciler.model import Config, WebhookSpec
from reconciler.plan import Action, Plan
from reconciler.providers import Provider
from tests.support.plan_samples import build_plan, config, remote_for, secret, spec
from tests.support.secrets import SIBS_SECRET

pytestmark = pytest.mark.anyio

ORDERS = WebhookSpec(name="orders", type="url", application="merchant",
                     notifications=("mbway",), url="https://hooks.shop.example/orders",
                     description="Orders")


def cfg(*specs: WebhookSpec) -> Config:
    return Config(Path("webhooks.yaml"), 1, "payments-team", {s.name: s for s in specs},
                  "sha256:" + "cd" * 32)


async def planned(provider: Provider, desired: Config) -> Plan:
    """The plan of ``desired`` against the provider, with its merchant's fingerprint key."""
    return planner.build_plan(desired, await provider.fetch(),
                              fingerprints=await provider.fingerprints())


async def applied(provider: Provider, desired: Config) -> None:
    plan = await planned(provider, desired)
    report = await apply_plan(plan, provider)
    assert report.ok, [(r.name, r.message) for r in report.failed]


async def test_a_rename_keeps_id_secret_and_delivery_history(provider: Provider) -> None:
    await applied(provider, cfg(ORDERS))
    [before] = await provider.fetch()
    await provider.emit({"terminal": "10001", "type": "mbway"})
    history = await provider.deliveries(before.id)
    assert len(history) == 1

    renamed = replace(ORDERS, name="orders-v2", renamed_from=("orders",),
                      description="Orders, second edition")
    plan = await planned(provider, cfg(renamed))
    [change] = plan.changes
    assert (change.action, change.name, change.renamed_from) == (Action.UPDATE, "orders-v2",
                                                                 "orders")
    assert [f.field for f in change.fields] == ["name", "description"]
    report = await apply_plan(plan, provider)
    assert report.ok and "renamed from orders" in report.results[0].message

    [after] = await provider.fetch()
    assert (after.id, after.name, after.version) == (before.id, "orders-v2", before.version + 1)
    assert after.secret_fingerprint == before.secret_fingerprint
    assert after.description == "Orders, second edition"
    assert await provider.deliveries(after.id) == history
    # renamed_from may stay in the config: the next plan has nothing to do.
    assert (await planned(provider, cfg(renamed))).changes == ()


async def test_a_rotation_keeps_the_old_secret_valid_and_never_runs_twice(
        provider: Provider) -> None:
    await applied(provider, cfg(replace(ORDERS, secret=secret(SIBS_SECRET))))
    [before] = await provider.fetch()
    rotated = await provider.rotate_secret(before.id, grace_seconds=3600,
                                           if_match=before.version)
    old = (await provider.fingerprints()).secret(SIBS_SECRET)
    assert rotated.secret_fingerprint not in (None, old)
    assert rotated.previous_secret_fingerprint == old
    assert rotated.previous_secret_valid_until is not None
    assert rotated.delivery_secret == "previous" and rotated.version == before.version + 1
    with pytest.raises(PreconditionFailed):  # a retry with the old version
        await provider.rotate_secret(before.id, grace_seconds=3600, if_match=before.version)
    assert (await provider.get(before.id)).secret_fingerprint == rotated.secret_fingerprint


# --- the planner's rules, without a provider ----------------------------------------------


def test_both_names_existing_is_an_error() -> None:
    new = spec("orders-v2", renamed_from=("orders",))
    actual = [remote_for(spec("orders")), remote_for(spec("orders-v2"))]
    with pytest.raises(PlanError, match="'orders-v2' lists 'orders' in renamed_from, but both "
                       "exist in the backoffice"):
        build_plan(config(new), actual)


def test_two_old_names_existing_or_a_type_change_is_an_error() -> None:
    new = spec("c", renamed_from=("a", "b"))
    with pytest.raises(PlanError, match="'a' and 'b' in renamed_from, and each exists"):
        build_plan(config(new), [remote_for(spec("a")), remote_for(spec("b"))])
    mail = spec("c", type="email", renamed_from=("a",))
    with pytest.raises(PlanError, match="rename it first keeping the type"):
        build_plan(config(mail), [remote_for(spec("a"))])


def test_another_owners_webhook_is_a_conflict_not_a_rename() -> None:
    new = spec("orders-v2", renamed_from=("orders",))
    plan = build_plan(config(new), [remote_for(spec("orders"), owner="ops-team")])
    assert plan.changes == () and [c.name for c in plan.conflicts] == ["orders"]
    adopted = build_plan(config(new), [remote_for(spec("orders"), owner="ops-team")],
                         adopt=True)
    assert [(c.renamed_from, c.adopt) for c in adopted.changes] == [("orders", True)]


def test_a_target_may_name_either_name_of_a_rename() -> None:
    new = spec("orders-v2", renamed_from=("orders",))
    actual = [remote_for(spec("orders")), remote_for(spec("other"))]
    for target in ("orders", "orders-v2"):
        plan = build_plan(config(new, spec("other")), actual, targets=[target])
        assert [(c.name, c.renamed_from) for c in plan.changes] == [("orders-v2", "orders")]


def test_a_delete_and_a_create_alike_warn_of_a_rename() -> None:
    url = "https://hooks.shop.example/orders"
    old = remote_for(spec("orders", url=url, application="store:LIS-01"))
    new = spec("orders-v2", url="HTTPS://Hooks.Shop.Example:443/orders",  # the same URL
               application="store:LIS-01")
    plan = build_plan(config(new), [old])
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.DELETE]
    [warning] = plan.warnings
    assert warning.kind == "rename" and warning.names == ("orders", "orders-v2")
    assert "add renamed_from: [orders]" in warning.message
    # Not alike: another application, another URL, another type.
    for other in (spec("x", url=url, application="merchant"),
                  spec("x", url="https://hooks.shop.example/other", application="store:LIS-01"),
                  spec("x", type="email", application="store:LIS-01")):
        assert build_plan(config(other), [old]).warnings == ()

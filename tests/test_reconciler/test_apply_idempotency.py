"""Idempotency keys protect one run's retries, and never replay a create across runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply import apply_plan
from reconciler.config import load_config
from reconciler.plan import Plan, build_plan
from reconciler.providers import Provider
from tests.support.serve import url_hook, write_config

pytestmark = pytest.mark.anyio


async def plan_for(provider: Provider, config_file: Path) -> Plan:
    config = load_config(config_file, catalog=await provider.catalog())
    return build_plan(config, await provider.fetch(), fingerprints=await provider.fingerprints())


async def test_a_webhook_deleted_out_of_band_is_created_again_by_the_same_config(
    provider: Provider, tmp_path: Path
) -> None:
    # The same config bytes and the same "absent" precondition: before the fix, the second
    # create sent the first one's Idempotency-Key, the backoffice replayed the deleted
    # webhook, and apply reported "created" while nothing was (for 24 hours).
    cfg = write_config(tmp_path / "webhooks.yaml", {"orders": url_hook("orders")})
    first = await apply_plan(await plan_for(provider, cfg), provider)
    assert first.ok and first.results[0].remote is not None
    await provider.delete(first.results[0].remote.id, if_match=None)

    plan = await plan_for(provider, cfg)
    assert [str(c.action) for c in plan.changes] == ["create"]
    second = await apply_plan(plan, provider)
    assert second.ok, second.data
    [remote] = await provider.fetch()
    assert second.results[0].remote is not None
    assert remote.id == second.results[0].remote.id != first.results[0].remote.id
    assert not (await plan_for(provider, cfg)).has_changes

"""Apply through each provider: order, idempotency, If-Match, lost responses, convergence."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.apply import apply_plan
from reconciler.config import load_config
from reconciler.plan import Plan, build_plan
from reconciler.providers import Provider
from tests.support.providers import HttpBackoffice

pytestmark = pytest.mark.anyio
OWNER = "payments-team"


def write_config(path: Path, webhooks: dict[str, dict[str, Any]], owner: str = OWNER) -> Path:
    doc = {"version": 1, "owner": owner, "defaults": {"application": "merchant"},
           "webhooks": webhooks}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def url_hook(path: str, **kw: Any) -> dict[str, Any]:
    return {"type": "url", "url": f"https://hooks.shop.example/{path}",
            "notifications": ["mbway"], **kw}


async def plan_for(provider: Provider, config_file: Path, **kw: Any) -> Plan:
    config = load_config(config_file, catalog=await provider.catalog())
    return build_plan(config, await provider.fetch(),
                      fingerprints=await provider.fingerprints(), **kw)


async def converge(provider: Provider, config_file: Path) -> Plan:
    """Apply until nothing changes; returns the final (empty) plan."""
    plan = await plan_for(provider, config_file)
    report = await apply_plan(plan, provider)
    assert report.ok, report.data
    again = await plan_for(provider, config_file)
    assert not again.has_changes, again.summary_line()
    return again


async def test_creates_updates_replaces_and_deletes_then_converges(
    provider: Provider, tmp_path: Path
) -> None:
    cfg = tmp_path / "webhooks.yaml"
    write_config(cfg, {
        "orders": url_hook("orders"),
        "refunds": url_hook("refunds"),
        "old": url_hook("old"),
        "lisbon": {"type": "url", "url": "https://hooks.shop.example/lis",
                   "application": "store:LIS-01", "notifications": ["mbway"]},
    })
    await converge(provider, cfg)
    write_config(cfg, {
        "orders": url_hook("orders", notifications=["mbway", "xpay"], description="main"),
        "refunds": url_hook("refunds"),
        "lisbon": {"type": "email", "email": "lisbon@shop.example",
                   "application": "store:LIS-01", "notifications": ["mbway"]},
        "porto": url_hook("porto", application="store:POR-01"),
    })
    plan = await plan_for(provider, cfg)
    actions = {c.name: str(c.action) for c in plan.changes}
    assert actions == {"porto": "create", "orders": "update", "lisbon": "replace",
                       "old": "delete"}
    report = await apply_plan(plan, provider)
    assert report.ok and report.summary_line() == (
        "Apply complete: 1 created, 1 updated, 1 replaced, 1 deleted."
    )
    # Deletes run last, after every create, update and replace.
    assert [r.action for r in report.results][-1] == "delete"
    final = {w.name: w for w in await provider.fetch()}
    assert set(final) == {"orders", "refunds", "lisbon", "porto"}
    assert final["orders"].notifications == ("mbway", "xpay")
    assert final["lisbon"].type == "email"
    assert not (await plan_for(provider, cfg)).has_changes


async def test_apply_keeps_labels_of_others_and_sets_ownership(
    provider: Provider, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "webhooks.yaml", {"orders": url_hook("orders")})
    await converge(provider, cfg)
    [remote] = await provider.fetch()
    assert remote.labels == {"managed-by": "webhooks-reconciler", "owner": OWNER}
    await provider.update(remote.id, {"labels": {**remote.labels, "team": "payments"}},
                          if_match=remote.version)
    write_config(cfg, {"orders": url_hook("orders", prevent_destroy=True)})
    await converge(provider, cfg)
    [remote] = await provider.fetch()
    assert remote.labels == {"managed-by": "webhooks-reconciler", "owner": OWNER,
                             "prevent-destroy": "true", "team": "payments"}


async def test_a_change_made_since_the_plan_fails_alone_and_a_rerun_converges(
    provider: Provider, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "webhooks.yaml", {"orders": url_hook("orders")})
    await converge(provider, cfg)
    write_config(cfg, {"orders": url_hook("orders", description="ours"),
                       "refunds": url_hook("refunds")})
    plan = await plan_for(provider, cfg)
    [remote] = await provider.fetch()
    await provider.update(remote.id, {"description": "theirs"}, if_match=remote.version)

    report = await apply_plan(plan, provider)
    assert not report.ok
    [failed] = report.failed
    assert failed.name == "orders" and "changed since plan" in failed.message
    assert [r.name for r in report.results if r.ok] == ["refunds"]
    assert "1 failed" in report.summary_line()
    await converge(provider, cfg)
    assert {w.name: w.description for w in await provider.fetch()}["orders"] == "ours"


async def test_stop_starts_no_new_change(provider: Provider, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "webhooks.yaml",
                       {f"hook-{i}": url_hook(f"h{i}") for i in range(6)})
    plan = await plan_for(provider, cfg)
    stop = asyncio.Event()
    report = await apply_plan(plan, provider, parallelism=1,
                              on_result=lambda result: stop.set(), stop=stop)
    assert report.interrupted and len(report.results) == 1
    assert len(report.not_started) == 5
    assert len(await provider.fetch()) == 1
    await converge(provider, cfg)


class Faults(httpx.AsyncBaseTransport):
    """Forwards to the real app; can lose responses or fail requests, and counts them."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lose: set[str] = set()  # methods whose next response is lost after commit
        self.fail_names: set[str] = set()  # creates that always get a 500
        self.requests: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.method)
        if request.method == "POST" and self.fail_names:
            await request.aread()
            if json.loads(request.content).get("name") in self.fail_names:
                return httpx.Response(500, json={"title": "boom", "detail": "injected"})
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
        finally:
            self.in_flight -= 1
        if request.method in self.lose:
            self.lose.discard(request.method)
            raise httpx.ReadError("connection reset after the server committed")
        return response


async def test_lost_responses_cause_no_duplicate_and_no_failure(
    http_backoffice: HttpBackoffice, tmp_path: Path
) -> None:
    faults: Faults | None = None

    def wrap(inner: httpx.AsyncBaseTransport) -> Faults:
        nonlocal faults
        faults = Faults(inner)
        return faults

    provider = http_backoffice.provider(wrap, backoff=0.001)
    assert faults is not None
    cfg = write_config(tmp_path / "webhooks.yaml", {"orders": url_hook("orders")})
    try:
        faults.lose = {"POST"}
        plan = await plan_for(provider, cfg)
        report = await apply_plan(plan, provider)
        assert report.ok, report.data
        assert [w.name for w in await provider.fetch()] == ["orders"]
        assert faults.requests.count("POST") == 2  # the lost one and its replay

        write_config(cfg, {"orders": url_hook("orders", description="v2")})
        faults.lose = {"PATCH"}
        report = await apply_plan(await plan_for(provider, cfg), provider)
        assert report.ok, report.data
        assert report.results[0].message == "updated (confirmed after a retry)"
        [remote] = await provider.fetch()
        assert remote.description == "v2" and remote.version == 2

        write_config(cfg, {})
        faults.lose = {"DELETE"}
        report = await apply_plan(await plan_for(provider, cfg), provider)
        assert report.ok, report.data
        assert await provider.fetch() == []
    finally:
        await provider.aclose()


async def test_partial_failure_then_convergence_with_bounded_parallelism(
    http_backoffice: HttpBackoffice, tmp_path: Path
) -> None:
    faults: Faults | None = None

    def wrap(inner: httpx.AsyncBaseTransport) -> Faults:
        nonlocal faults
        faults = Faults(inner)
        return faults

    provider = http_backoffice.provider(wrap, backoff=0.001, retries=2)
    assert faults is not None
    hooks = {f"hook-{i:02d}": url_hook(f"h{i}") for i in range(20)}
    cfg = write_config(tmp_path / "webhooks.yaml", hooks)
    try:
        faults.fail_names = {"hook-07"}
        plan = await plan_for(provider, cfg)
        faults.requests.clear()
        report = await apply_plan(plan, provider, parallelism=3)
        assert [r.name for r in report.failed] == ["hook-07"]
        assert "failed (500)" in report.failed[0].message
        assert len([r for r in report.results if r.ok]) == 19
        assert faults.max_in_flight <= 3
        # One write per change; only the failing create was retried (1 + 2 retries).
        assert faults.requests.count("POST") == 19 + 3

        faults.fail_names = set()
        await converge(provider, cfg)
        assert len(await provider.fetch()) == 20
    finally:
        await provider.aclose()

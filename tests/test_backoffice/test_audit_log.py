"""The audit log: every write with who, what (field names only), when and the outcome;
refused attempts too, but never a 401 and boundedly per token; read back per merchant.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from backoffice import Backoffice
from backoffice.audit import REFUSALS_PER_MINUTE
from backoffice.http.api import create_app
from reconciler.errors import Conflict
from reconciler.providers.embedded import EmbeddedProvider
from tests.support.backoffice import Clock, url_webhook
from tests.support.secrets import OTHER_SIBS_SECRET, SIBS_SECRET

pytestmark = pytest.mark.anyio

REFUSED_URL = "http://localhost:9/audit"  # a name for loopback: refused before sending
PASSWORD = "Pw-audit-3e9c1f"
DESCRIPTION = "Only the Lisbon desk may know this text"


class Ticks:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def api(office: Backoffice, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(office)),
                             base_url="http://backoffice.test",
                             headers={"Authorization": f"Bearer {token}"})


async def log_of(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    answer = await client.get("/v1/audit", params={"limit": 1000, **params})
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


async def test_every_write_is_recorded_with_who_what_and_when(office: Backoffice) -> None:
    token, me = office.tokens.issue("demo", "manage", name="ci-apply")
    async with api(office, token) as client:
        hook = (await client.post("/v1/webhooks", json=url_webhook(
            "orders", url=REFUSED_URL, secret=SIBS_SECRET, description=DESCRIPTION,
            labels={"team": "payments"}))).json()
        path = f"/v1/webhooks/{hook['id']}"
        assert (await client.patch(path, json={
            "url": REFUSED_URL.replace("://", f"://shop:{PASSWORD}@"),
            "secret": OTHER_SIBS_SECRET, "description": DESCRIPTION + "!"})).status_code == 200
        assert (await client.patch(path, json={"description": DESCRIPTION + "!"})).json()[
            "version"] == 2  # a change to the same values: no write, no entry
        assert (await client.post(f"{path}/test", json={})).status_code == 200
        emitted = (await client.post("/v1/notifications",
                                     json={"terminal": "10001", "type": "mbway"})).json()
        [delivery] = emitted["deliveries"]
        assert (await client.post(f"/v1/deliveries/{delivery['id']}/resend")).status_code == 202
        assert (await client.post(f"{path}/recover", json={"since": "1h"})).status_code == 202
        revealed = (await client.post(f"{path}/secret/reveal")).json()
        assert revealed["secret"] == OTHER_SIBS_SECRET
        made = (await client.post("/v1/tokens", json={"name": "grafana", "scope": "read"})).json()
        assert (await client.delete(f"/v1/tokens/{made['id']}")).status_code == 200
        assert (await client.delete(path)).status_code == 204
        entries = await log_of(client)

    assert [(e["action"], e["target_id"], e["status"]) for e in reversed(entries)] == [
        ("token.create", me["id"], 201),  # made above, by the local operator
        ("webhook.create", hook["id"], 201), ("webhook.update", hook["id"], 200),
        ("webhook.test", hook["id"], 200),
        ("notification.emit", emitted["notification"]["notificationID"], 201),
        ("delivery.resend", delivery["id"], 202), ("webhook.recover", hook["id"], 202),
        ("secret.reveal", hook["id"], 200), ("token.create", made["id"], 201),
        ("token.revoke", made["id"], 200), ("webhook.delete", hook["id"], 204)]
    first, *rest = reversed(entries)
    assert (first["actor"], first["actor_token_id"]) == ("cli:local", None)
    assert {(e["actor"], e["actor_token_id"], e["outcome"]) for e in rest} == {
        ("ci-apply", me["id"], "ok")}
    by_action = {e["action"]: e for e in entries}
    assert by_action["webhook.update"]["fields"] == ["description", "secret", "url"]
    assert by_action["webhook.create"]["fields"] == [
        "application", "description", "labels", "name", "notifications", "secret", "type",
        "url"]
    assert by_action["secret.reveal"]["fields"] == ["secret"]
    assert by_action["webhook.delete"]["target_name"] == "orders"
    assert by_action["token.revoke"]["target_name"] == "grafana"
    assert all(e["at"].startswith("2026-11-28T04:00:00") for e in entries)  # the office clock
    # Names of fields, never values: no secret, password, description or label value.
    dumped = json.dumps(entries)
    for value in (SIBS_SECRET, OTHER_SIBS_SECRET, PASSWORD, DESCRIPTION, "payments", token):
        assert value not in dumped


async def test_refusals_are_recorded_but_never_a_401(office: Backoffice) -> None:
    manage, me = office.tokens.issue("demo", "manage", name="admin")
    read, reader = office.tokens.issue("demo", "read", name="viewer")
    hook = office.webhooks.create_webhook("demo", url_webhook("taken", url=REFUSED_URL))
    path = f"/v1/webhooks/{hook['id']}"
    async with api(office, read) as as_reader:
        assert (await as_reader.patch(path, json={"enabled": False})).status_code == 403
        assert (await as_reader.post(f"{path}/secret/reveal")).status_code == 403
    async with api(office, "wbo_" + "Q" * 43) as stranger:
        for _ in range(20):  # anyone can send these: none is recorded
            assert (await stranger.delete(path)).status_code == 401
    async with api(office, manage) as client:
        assert (await client.post("/v1/webhooks", json=url_webhook(
            "taken", url=REFUSED_URL))).status_code == 409
        assert (await client.patch(path, json={"enabled": False},
                                   headers={"If-Match": '"7"'})).status_code == 412
        assert (await client.patch(path, json={"enabled": "no"})).status_code == 422
        assert (await client.delete("/v1/webhooks/wh_000000000000")).status_code == 404
        assert (await client.delete("/v1/webhooks/x%1B%5B2J")).status_code == 404
        assert (await client.get("/v1/webhooks/wh_000000000000")).status_code == 404  # a read
        entries = [e for e in await log_of(client) if e["outcome"] == "refused"]
    assert [(e["actor"], e["action"], e["status"], e["note"], e["target_id"])
            for e in reversed(entries)] == [
        ("viewer", "webhook.update", 403, "Forbidden", hook["id"]),
        ("viewer", "secret.reveal", 403, "Forbidden", hook["id"]),
        ("admin", "webhook.create", 409, "Name taken", None),
        ("admin", "webhook.update", 412, "Precondition failed", hook["id"]),
        ("admin", "webhook.update", 422, "Invalid request", hook["id"]),
        ("admin", "webhook.delete", 404, "Not found", "wh_000000000000"),
        ("admin", "webhook.delete", 404, "Not found", None),  # not an id: not recorded
    ]
    assert {e["actor_token_id"] for e in entries} == {me["id"], reader["id"]}
    assert office.webhooks.get_webhook("demo", hook["id"])["enabled"] is True


async def test_refusals_are_bounded_per_token_and_say_how_many_were_left_out(
        office: Backoffice) -> None:
    ticks = Ticks()
    office.audit.ticks = ticks
    noisy = office.tokens.create_token("demo", "read", name="noisy")
    calm = office.tokens.create_token("demo", "read", name="calm")
    hook = office.webhooks.create_webhook("demo", url_webhook("spam", url=REFUSED_URL))
    path = f"/v1/webhooks/{hook['id']}"
    async with api(office, noisy) as client:
        for _ in range(REFUSALS_PER_MINUTE + 12):
            assert (await client.delete(path)).status_code == 403
        async with api(office, calm) as other:  # another token has its own share
            assert (await other.delete(path)).status_code == 403
        ticks.now += 61
        assert (await client.delete(path)).status_code == 403
        refused = [e for e in await log_of(client) if e["outcome"] == "refused"]
    noisy_entries = [e for e in refused if e["actor"] == "noisy"]
    assert len(noisy_entries) == REFUSALS_PER_MINUTE + 1
    assert noisy_entries[0]["note"] == "Forbidden (and 12 more refusal(s) not recorded)"
    assert [e["actor"] for e in refused].count("calm") == 1


async def test_the_log_pages_filters_and_stays_with_its_merchant(
        office: Backoffice, clock: Clock) -> None:
    token = office.tokens.create_token("demo", "read", name="reader")
    for n in range(5):
        office.webhooks.create_webhook("demo", url_webhook(f"hook-{n}", url=REFUSED_URL))
        clock.advance(hours=1)
    office.webhooks.create_webhook("acme", url_webhook("acme-hook", url=REFUSED_URL,
                                                       application="merchant"))
    async with api(office, token) as client:
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = (await client.get("/v1/audit", params=params)).json()
            seen += [e["target_name"] for e in page["data"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == ["hook-4", "hook-3", "hook-2", "hook-1", "hook-0", "reader"]
        recent = await log_of(client, since="150m")  # the clock is 5 h on
        assert [e["target_name"] for e in recent] == ["hook-4", "hook-3"]
        since = await log_of(client, since="2026-11-28T06:00:00Z")
        assert [e["target_name"] for e in since] == ["hook-4", "hook-3", "hook-2"]
        for bad in ({"since": "soon"}, {"cursor": "nope"}, {"limit": 0}, {"extra": 1},
                    {"since": "\x00"}):
            assert (await client.get("/v1/audit", params=bad)).status_code == 422, bad
        repeated = await client.get("/v1/audit?limit=1&limit=2")
        assert repeated.status_code == 422
    other = office.tokens.create_token("acme", "read", name="acme-reader")
    async with api(office, other) as client:
        assert {e["target_name"] for e in await log_of(client)} == {"acme-hook", "acme-reader"}


async def test_the_embedded_backoffice_writes_as_the_local_operator(office: Backoffice) -> None:
    provider = EmbeddedProvider(office)
    body = url_webhook("local", url=REFUSED_URL)
    await provider.create(body, idempotency_key="k1")
    with pytest.raises(Conflict):
        await provider.create(body, idempotency_key="k2")
    entries = await provider.audit()
    assert [(e["actor"], e["actor_token_id"], e["action"], e["outcome"], e["status"])
            for e in entries] == [("cli:local", None, "webhook.create", "refused", 409),
                                  ("cli:local", None, "webhook.create", "ok", 201)]


async def test_a_write_and_its_entry_commit_together(office: Backoffice) -> None:
    """No write without its entry: when the entry cannot be written, neither is the
    webhook (here the log's table is gone, as a broken database would have it)."""
    office.webhooks.create_webhook("demo", url_webhook("before", url=REFUSED_URL))
    with office.db.write() as conn:
        conn.execute(text("DROP TABLE audit_log"))
    with pytest.raises(Exception, match="audit_log"):
        office.webhooks.create_webhook("demo", url_webhook("after", url=REFUSED_URL))
    names = [w["name"] for w in office.webhooks.list_webhooks("demo").data]
    assert names == ["before"]

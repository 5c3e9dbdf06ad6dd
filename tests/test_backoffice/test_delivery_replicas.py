"""Several `webhooks serve` processes on one SQLite database: at most one sender at a time.

Three real servers (subprocesses on free loopback ports) share one database and deliver
to one slow receiver that keeps, for each request, the notification id, when it arrived
and when it answered (tests/support/intervals.py); every fifth request is answered 500
(never twice for one delivery), so retries move between servers. Every notification must
be delivered, no two attempts of one notification may overlap in time, and none may
arrive after the receiver acknowledged that notification. Then the same with a kill -9
in the middle of group commits: nothing the delivery log says is contradicted by what
the receiver saw, nothing recorded delivered is sent again, and only what was in flight
at the kill is repeated.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backoffice.db import delivery_queries
from backoffice.db.webhook_queries import get_webhook
from backoffice.facade import Backoffice
from tests.support.env import clean_env
from tests.support.intervals import IntervalReceiver, Visit
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, db_url_of, seed

pytestmark = pytest.mark.slow
TIMEOUT_S = 5.0
SERVE_ARGS = ["--allow-private-targets", "--retry-schedule", "0.05,0.05,0.05,0.05,0.05",
              "--worker-interval", "0.05", "--delivery-timeout", str(TIMEOUT_S)]
WAIT = 90.0  # bound of every wait: a test that fails stops by itself


def wait_for(what: str, predicate: Callable[[], bool], every: float = 0.05,
             state: Callable[[], object] = lambda: "") -> None:
    """Wait for ``predicate``; past ``WAIT``, fail with ``what`` and the ``state`` then."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what} {state()}"
        time.sleep(every)


def _statuses(base: str, token: str, hooks: list[str]) -> Counter[tuple[str, int]]:
    """How many deliveries have each (status, attempts): what a stalled wait reports."""
    return Counter((d["status"], d["attempts"]) for hook in hooks
                   for d in deliveries(base, token, hook).values())


def deliveries(base: str, token: str, webhook_id: str) -> dict[str, dict[str, Any]]:
    """The webhook's deliveries by notification id, read through the API."""
    answer = httpx.get(f"{base}/v1/webhooks/{webhook_id}/deliveries", params={"limit": 1000},
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    answer.raise_for_status()
    return {d["notification_id"]: d for d in answer.json()["data"]}


def make_hooks(db: Path | str, urls: list[str], count: int,
               data_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """Webhooks (one per URL) and ``count`` notifications for each, queued before any
    server starts, so the servers' first claims race for them."""
    # Loopback receivers, as the servers (--allow-private-targets) allow.
    with Backoffice.open(db_url_of(db), data_dir=data_dir, allow_private_targets=True) as office:
        hooks = [office.webhooks.create_webhook("demo", {
            "name": f"orders-{i}", "type": "url", "url": url, "application": "terminal:10001",
            "notifications": ["mbway"], "secret": SIBS_SECRET, "format": "sibs"})["id"]
            for i, url in enumerate(urls)]
        emitted = [office.deliveries.emit_notification(
                       "demo", {"terminal": "10001", "type": "mbway"})
                   ["notification"]["notificationID"] for _ in range(count)]
    return hooks, emitted


@pytest.fixture
def slow() -> Iterator[IntervalReceiver]:
    server = IntervalReceiver(delay_s=0.1, fail_every=5)
    yield server
    server.close()


def test_three_servers_never_overlap_attempts_of_one_delivery(
        processes: Processes, slow: IntervalReceiver, tmp_path: Path, backend: str,
        request: pytest.FixtureRequest) -> None:
    """On SQLite, and on PostgreSQL (claims with FOR UPDATE SKIP LOCKED)."""
    db: Path | str = (tmp_path / "bo.db" if backend == "sqlite"
                      else str(request.getfixturevalue("postgres_url")))
    token, _ = seed(db, data_dir=tmp_path)
    hooks, emitted = make_hooks(db, [slow.url("/a"), slow.url("/b")], 90, data_dir=tmp_path)
    env = clean_env(WEBHOOKS_DATA_DIR=str(tmp_path))  # one server key for the three
    servers = [Server(processes, db, tmp_path, args=SERVE_ARGS, env=env) for _ in range(3)]
    # More while they run, through each server's API in turn (each wakes its worker).
    for i in range(30):
        answer = httpx.post(f"{servers[i % 3].base}/v1/notifications",
                            json={"terminal": "10001", "type": "mbway"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 201, answer.text
        emitted.append(answer.json()["notification"]["notificationID"])

    def all_delivered() -> bool:
        return all(d["status"] == "delivered" for hook in hooks
                   for d in deliveries(servers[0].base, token, hook).values())
    wait_for("every delivery to be delivered", all_delivered, every=0.2,
             state=lambda: _statuses(servers[0].base, token, hooks))
    states = [d for hook in hooks for d in deliveries(servers[0].base, token, hook).values()]
    for server in servers:
        assert server.stop() == 0
    assert len(states) == 2 * len(emitted) and {d["status"] for d in states} == {"delivered"}
    visits = slow.by_id()
    assert slow.problems == []
    assert sorted(visits) == sorted(emitted)  # each notification went to both webhooks
    for nid, seen in visits.items():
        assert sum(v.acked for v in seen) == 2, (nid, seen)  # once per webhook, no more
        # One delivery per (notification, webhook); its attempts in order of arrival:
        # each starts after the previous one answered, and none after an acknowledgement.
        for hook_visits in _per_delivery(seen):
            for before, after in itertools.pairwise(hook_visits):
                assert before.end <= after.start, ("overlap", nid, before, after)
                assert not before.acked, ("sent again after an acknowledgement", nid)
    logs = "".join(server.log_text() for server in servers)
    assert "another worker has it now" not in logs  # no lease ever ran out
    # Each server did some of the work (the claims raced).
    assert all("delivered" in server.log_text() for server in servers)


def _per_delivery(visits: list[Visit]) -> list[list[Visit]]:
    """A notification's visits split by delivery (its webhooks), each in arrival order."""
    split: dict[str, list[Visit]] = {}
    for visit in visits:
        split.setdefault(visit.path, []).append(visit)
    return list(split.values())


def test_kill_9_during_group_commits_loses_no_acknowledged_outcome(
        processes: Processes, tmp_path: Path) -> None:
    """Two webhooks, 150 notifications each; the receiver acknowledges the first 200
    deliveries and holds the rest, and the server is killed the moment the 200th
    acknowledgement is written, while outcomes are being committed."""
    receiver = Receiver(sibs_secret=SIBS_SECRET, answer_first=200, reject_unopened=True)
    try:
        db = tmp_path / "bo.db"
        token, _ = seed(db)
        hooks, emitted = make_hooks(db, [receiver.url("/a"), receiver.url("/b")], 150)
        first = Server(processes, db, tmp_path, args=SERVE_ARGS)
        deadline = time.monotonic() + WAIT
        while len(receiver.acked) < 200:
            assert time.monotonic() < deadline, "the first 200 were never acknowledged"
            time.sleep(0.001)
        first.kill()
        received_before = Counter(receiver.received_ids)
        acked_before = Counter(receiver.acked)
        receiver.answer_all()  # the held ones are dropped; every later one is answered
        logged = set(re.findall(r"delivery (dl_\w+) to webhook \w+: delivered",
                                first.log_text()))
        with Backoffice.open(f"sqlite:///{db}") as office, office.db.read() as conn:
            recorded = {hook: {d.id: d for d in delivery_queries.list_deliveries(
                conn, pk, 1000)} for hook, pk in _webhook_pks(office, hooks).items()}
            attempts = delivery_queries.attempts_of(
                conn, [d.pk for rows in recorded.values() for d in rows.values()])
        done = {(d.notification_id, hook): d for hook, rows in recorded.items()
                for d in rows.values() if d.status == "delivered"}
        # Whatever the log said was delivered had been committed before the kill.
        assert logged <= {d.id for d in done.values()}
        # Every recorded outcome is one the receiver acknowledged, with its one attempt
        # row written in the same transaction; nothing else was recorded at all.
        assert all(acked_before[nid] >= 1 for nid, _ in done)
        assert {(d.status, d.attempts) for rows in recorded.values() for d in rows.values()
                } == {("delivered", 1), ("pending", 0)}
        assert all([a.outcome for a in attempts[d.pk]] == ["delivered"] for d in done.values())
        assert all(attempts[d.pk] == [] for rows in recorded.values() for d in rows.values()
                   if d.status == "pending")

        second = Server(processes, db, tmp_path, args=SERVE_ARGS)
        after: dict[str, dict[str, dict[str, Any]]] = {}

        def all_delivered() -> bool:
            after.update({hook: deliveries(second.base, token, hook) for hook in hooks})
            return all(d["status"] == "delivered" for rows in after.values()
                       for d in rows.values())
        wait_for("every delivery to be delivered", all_delivered, every=0.2,
                 state=lambda: _statuses(second.base, token, hooks))
        assert second.stop() == 0
    finally:
        receiver.close()
    assert receiver.problems == [] and set(receiver.acked) == set(emitted)
    # Nothing recorded delivered was sent again, nor recorded again.
    for nid, hook in done:
        assert after[hook][nid]["attempts"] == 1
    sent_to = _sent_per_delivery(receiver)
    for nid, hook in done:
        assert sent_to[(nid, _path_of(hooks, hook))] == 1
    # Repeats are only deliveries the receiver had seen before the kill (in flight then:
    # sent, and not recorded), each sent once more.
    recorded_pairs = {(nid, _path_of(hooks, hook)) for nid, hook in done}
    repeated = {pair for pair, n in sent_to.items() if n > 1}
    assert all(received_before[nid] >= 1 for nid, _ in repeated)
    assert not repeated & recorded_pairs and set(sent_to.values()) <= {1, 2}


def _webhook_pks(office: Backoffice, hooks: list[str]) -> dict[str, int]:
    found = {}
    with office.db.read() as conn:
        for hook in hooks:
            record = get_webhook(conn, "demo", id=hook)
            assert record is not None
            found[hook] = record.pk
    return found


def _path_of(hooks: list[str], hook: str) -> str:
    return "/a" if hook == hooks[0] else "/b"


def _sent_per_delivery(receiver: Receiver) -> Counter[tuple[str, str]]:
    return Counter((r.nid, r.path) for r in receiver.received if r.nid is not None)


"""Three `webhooks serve` replicas on one PostgreSQL database: what holds across them.

Real servers (subprocesses on free loopback ports, one server key for the three) on a fresh
database of the session's throwaway PostgreSQL, and real receivers on loopback:

- If-Match: a version read through one replica and changed through another is stale on
  the first (412);
- Idempotency-Key: a create retried on another replica, or sent to the three at once,
  makes one webhook and answers with it each time;
- deliveries: split between the replicas, none sent twice while they are all alive;
- a replica killed -9 with attempts in flight: the other two finish its deliveries once
  its leases run out, and repeat only what had reached the receiver before the kill.

Every wait is bounded (``WAIT``); nothing asserts on how long something took.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from backoffice.db import tables as t
from backoffice.facade import Backoffice
from tests.support.env import clean_env
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, seed

pytestmark = pytest.mark.slow
TIMEOUT_S = 2.0  # an attempt's deadline: a lease is this plus the 10 s margin
SERVE_ARGS = ["--allow-private-targets", "--retry-schedule", "0.05,0.05,0.05",
              "--worker-interval", "0.05"]
WAIT = 90.0  # bound of every wait: a test that fails stops by itself
DELIVERED = re.compile(r"delivery (dl_\w+) to webhook \w+: delivered")


def wait_for(what: str, predicate: Callable[[], bool], every: float = 0.05) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(every)


class Replicas:
    """Three servers on one PostgreSQL database, their manage token, an HTTP client."""

    def __init__(self, processes: Processes, db: str, data_dir: Path, token: str, *,
                 timeout_s: float = TIMEOUT_S) -> None:
        env = clean_env(WEBHOOKS_DATA_DIR=str(data_dir))  # one server key for the three
        self.db, self.token, self._processes, self._env = db, token, processes, env
        self.args = [*SERVE_ARGS, "--delivery-timeout", str(timeout_s)]
        self.servers = [self.start() for _ in range(3)]
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def start(self) -> Server:
        return Server(self._processes, self.db, Path(self._env["WEBHOOKS_DATA_DIR"]),
                      args=self.args, env=self._env)

    def url(self, i: int, path: str) -> str:
        return self.servers[i].base + path

    def names(self, i: int) -> list[str]:
        page = self.http.get(self.url(i, "/v1/webhooks"), params={"limit": 1000})
        page.raise_for_status()
        return [w["name"] for w in page.json()["data"]]

    def close(self) -> None:
        self.http.close()
        for server in self.servers:
            if server.process.poll() is None:
                server.stop()


@pytest.fixture
def replicas(processes: Processes, postgres_url: str, tmp_path: Path) -> Iterator[Replicas]:
    token, _ = seed(postgres_url, data_dir=tmp_path)
    group = Replicas(processes, postgres_url, tmp_path, token)
    try:
        yield group
    finally:
        group.close()  # and `processes` kills whatever did not stop


def hook(name: str, url: str = "https://hooks.shop.example/orders") -> dict[str, Any]:
    return {"name": name, "type": "url", "url": url, "application": "terminal:10001",
            "notifications": ["mbway"], "format": "sibs", "secret": SIBS_SECRET}


# --- If-Match and Idempotency-Key ----------------------------------------------------------


def test_if_match_holds_across_replicas(replicas: Replicas) -> None:
    a, b = 0, 1
    created = replicas.http.post(replicas.url(a, "/v1/webhooks"), json=hook("orders"))
    assert created.status_code == 201, created.text
    path = f"/v1/webhooks/{created.json()['id']}"
    read = replicas.http.get(replicas.url(a, path))
    assert read.status_code == 200
    stale = read.headers["ETag"]
    changed = replicas.http.patch(replicas.url(b, path), json={"description": "from B"},
                                  headers={"If-Match": stale})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] != stale
    late = replicas.http.patch(replicas.url(a, path), json={"description": "from A"},
                               headers={"If-Match": stale})
    assert late.status_code == 412, late.text
    # B's change stands, whichever replica is asked.
    for i in range(3):
        now = replicas.http.get(replicas.url(i, path))
        assert (now.json()["description"], now.headers["ETag"]) == (
            "from B", changed.headers["ETag"])
    # A delete with the stale version is refused too; with the current one it goes.
    c = 2
    assert replicas.http.delete(replicas.url(c, path),
                                headers={"If-Match": stale}).status_code == 412
    assert replicas.http.delete(replicas.url(c, path), headers={
        "If-Match": changed.headers["ETag"]}).status_code == 204
    assert replicas.http.get(replicas.url(a, path)).status_code == 404


def test_an_idempotent_create_retried_on_other_replicas_makes_one_webhook(
        replicas: Replicas) -> None:
    body, key = hook("retried"), {"Idempotency-Key": "create-retried-1"}
    answers = [replicas.http.post(replicas.url(i, "/v1/webhooks"), json=body, headers=key)
               for i in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert answers[1].json() == answers[2].json() == answers[0].json()
    for i in range(3):
        assert replicas.names(i) == ["retried"]
    # The same key with another body is refused on any replica, and creates nothing.
    other = replicas.http.post(replicas.url(2, "/v1/webhooks"), json=hook("something-else"),
                               headers=key)
    assert other.status_code == 422 or other.status_code == 409, other.text
    assert replicas.names(0) == ["retried"]


def test_concurrent_creates_with_one_key_on_three_replicas_make_one_webhook(
        replicas: Replicas) -> None:
    rounds = 12
    for n in range(rounds):
        body, key = hook(f"raced-{n}"), {"Idempotency-Key": f"raced-key-{n}"}
        start = threading.Barrier(3)
        answers: list[httpx.Response | BaseException | None] = [None] * 3

        def send(i: int, body: dict[str, Any] = body, key: dict[str, str] = key,
                 start: threading.Barrier = start,
                 answers: list[httpx.Response | BaseException | None] = answers) -> None:
            try:
                start.wait(timeout=30)
                answers[i] = replicas.http.post(replicas.url(i, "/v1/webhooks"), json=body,
                                                headers=key)
            except BaseException as exc:  # reported below
                answers[i] = exc
        threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        got = [a for a in answers if isinstance(a, httpx.Response)]
        assert len(got) == 3, answers
        assert [a.status_code for a in got] == [201] * 3, (n, [a.text for a in got])
        assert len({a.json()["id"] for a in got}) == 1, n
    names = replicas.names(1)
    assert sorted(names) == sorted(f"raced-{n}" for n in range(rounds))


# --- deliveries ----------------------------------------------------------------------------


def queue(db: str, data_dir: Path, urls: list[str], count: int) -> list[str]:
    """Webhooks (one per URL) and ``count`` notifications to each, queued in the database;
    the notification ids."""
    # Loopback receivers, as the servers (--allow-private-targets) allow.
    with Backoffice.open(db, data_dir=data_dir, allow_private_targets=True) as office:
        for i, url in enumerate(urls):
            office.webhooks.create_webhook("demo", hook(f"orders-{i}", url))
        return [office.deliveries.emit_notification(
                    "demo", {"terminal": "10001", "type": "mbway"})
                ["notification"]["notificationID"] for _ in range(count)]


def delivered_by(server: Server) -> list[str]:
    """The delivery ids this server's log says it delivered."""
    return DELIVERED.findall(server.log_text())


def statuses(db: str, data_dir: Path) -> Counter[str]:
    with Backoffice.open(db, data_dir=data_dir) as office, office.db.read() as conn:
        rows = conn.execute(t.deliveries.select()).mappings().all()
        return Counter(str(row["status"]) for row in rows)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(sibs_secret=SIBS_SECRET, reject_unopened=True, delay_s=0.2)
    yield server
    server.close()


def test_deliveries_are_split_between_live_replicas_and_none_is_sent_twice(
        processes: Processes, postgres_url: str, tmp_path: Path, receiver: Receiver) -> None:
    token, _ = seed(postgres_url, data_dir=tmp_path)
    paths = ["/a", "/b", "/c"]
    # The three are up (and polling) before the work comes, so they race from the start.
    group = Replicas(processes, postgres_url, tmp_path, token)
    try:
        emitted = queue(postgres_url, tmp_path, [receiver.url(p) for p in paths], 80)
        total = len(paths) * len(emitted)
        wait_for("every delivery to be acknowledged", lambda: len(receiver.acked) >= total)
        wait_for("every outcome to be recorded",
                 lambda: statuses(postgres_url, tmp_path) == Counter(delivered=total), 0.2)
        logs = [delivered_by(server) for server in group.servers]
    finally:
        group.close()
    assert receiver.problems == []
    sent = Counter((r.nid, r.path) for r in receiver.received)
    assert set(sent) == {(nid, p) for nid in emitted for p in paths}
    assert set(sent.values()) == {1}, [k for k, n in sent.items() if n > 1]  # none twice
    assert Counter(receiver.acked) == Counter({nid: len(paths) for nid in emitted})
    # Each replica delivered some, and no delivery was logged delivered by two of them.
    assert all(logs), [len(log) for log in logs]
    every = [d for log in logs for d in log]
    assert len(every) == len(set(every)) == total


def attempts_per_delivery(db: str, data_dir: Path,
                          paths: list[str]) -> dict[tuple[str, str], list[str]]:
    """(notification id, receiver path) -> the outcomes of its recorded attempts, in order."""
    n, w, d, a = t.notifications.c, t.webhooks.c, t.deliveries.c, t.attempts.c
    query = (select(n.id, w.name, a.outcome)
             .select_from(t.deliveries.join(t.notifications, d.notification_pk == n.pk)
                          .join(t.webhooks, d.webhook_pk == w.pk)
                          .outerjoin(t.attempts, a.delivery_pk == d.pk))
             .order_by(d.pk, a.number))
    found: dict[tuple[str, str], list[str]] = {}
    with Backoffice.open(db, data_dir=data_dir) as office, office.db.read() as conn:
        for nid, name, outcome in conn.execute(query):
            outcomes = found.setdefault((nid, paths[int(name.rsplit("-", 1)[1])]), [])
            if outcome is not None:
                outcomes.append(outcome)
    return found


def test_a_replica_killed_mid_delivery_leaves_its_work_to_the_others(
        processes: Processes, postgres_url: str, tmp_path: Path) -> None:
    """The receiver answers the first 40 deliveries and then holds every request
    unanswered: the three replicas fill all their slots (4 per webhook each, 16 each
    with 4 webhooks) with attempts in flight. Replica A is killed -9 then, and the
    receiver lets the held requests go (unanswered: B's and C's fail and are retried at
    once). A's 16 deliveries stay claimed until their leases run out; then B and C send
    them again. Only what had reached the receiver before the kill comes again."""
    paths = ["/a", "/b", "/c", "/d"]
    answered, slots = 40, 3 * 4 * len(paths)
    receiver = Receiver(sibs_secret=SIBS_SECRET, reject_unopened=True, answer_first=answered)
    try:
        token, _ = seed(postgres_url, data_dir=tmp_path)
        group = Replicas(processes, postgres_url, tmp_path, token, timeout_s=5.0)
        try:
            emitted = queue(postgres_url, tmp_path, [receiver.url(p) for p in paths], 40)
            total = len(paths) * len(emitted)
            # Every slot of every replica holds an attempt the receiver has not answered.
            wait_for("every replica's slots to be full",
                     lambda: len(receiver.received) >= answered + slots, 0.01)
            group.servers[0].kill()
            before = Counter((r.nid, r.path) for r in receiver.received)
            receiver.answer_all()
            wait_for("every delivery to be recorded delivered",
                     lambda: statuses(postgres_url, tmp_path) == Counter(delivered=total), 0.2)
            survivors = [delivered_by(server) for server in group.servers[1:]]
        finally:
            group.close()
    finally:
        receiver.close()
    assert receiver.problems == []
    assert len(before) == sum(before.values()) == answered + slots  # no retry before the kill
    sent = Counter((r.nid, r.path) for r in receiver.received)
    assert set(sent) == {(nid, p) for nid in emitted for p in paths}  # every one reached it
    assert set(receiver.acked) == set(emitted)
    # Repeats are only deliveries the receiver had seen before the kill, each sent once more.
    repeated = {pair for pair, count in sent.items() if count > 1}
    assert repeated <= set(before) and set(sent.values()) <= {1, 2}
    outcomes = attempts_per_delivery(postgres_url, tmp_path, paths)
    # A's 16 attempts in flight died with it: nothing of them was recorded, and B or C
    # delivered each once its lease ran out (sent twice, one attempt on record) ...
    lost_with_a = {pair for pair in repeated if outcomes[pair] == ["delivered"]}
    assert len(lost_with_a) == 4 * len(paths), sorted(lost_with_a)
    # ... while B's and C's held ones failed (dropped unanswered) and were retried.
    assert all(outcomes[pair] == ["failed", "delivered"] for pair in repeated - lost_with_a)
    assert len(repeated - lost_with_a) == 2 * 4 * len(paths)
    # Everything sent once was delivered, and recorded delivered once. (A retry may follow
    # a failure that never reached the receiver: a pooled connection the receiver had just
    # closed, when it let the held requests go.)
    assert all(outcomes[pair][-1:] == ["delivered"] and outcomes[pair].count("delivered") == 1
               for pair in sent), outcomes
    assert all(survivors), [len(s) for s in survivors]

"""Test-fires run off the request path: a real `webhooks serve`, a receiver that holds
every delivery, 50 concurrent test-fires. Proved by the order of events, never by time:
the other requests answer while the receiver still holds the test-fires."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.backoffice import url_webhook
from tests.support.processes import Processes
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, api_env, run_cli, seed, seed_merchants

pytestmark = pytest.mark.slow

FIRES = 50
LIMIT = 4
PATIENCE = 60.0  # a safety net for a broken server, never a measure of speed


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


class Events:
    """What happened, in the order it happened (appended from many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[str] = []

    def note(self, event: str) -> None:
        with self._lock:
            self.seen.append(event)

    def count(self, event: str) -> int:
        with self._lock:
            return self.seen.count(event)

    def first(self, event: str) -> int:
        with self._lock:
            return self.seen.index(event)


def create(client: httpx.Client, name: str, url: str) -> str:
    answer = client.post("/v1/webhooks", json=url_webhook(name, url=url, secret=SIBS_SECRET,
                                                          format="sibs"))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_held_test_fires_block_no_other_request_and_are_bounded_per_merchant(
        tmp_path: Path, processes: Processes) -> None:
    db = tmp_path / "bo.db"
    demo, _ = seed(db)
    other = seed_merchants(db, ["other"])["other"]
    held = Receiver(answer_first=0)  # holds every delivery until answer_all
    quick = Receiver()
    try:
        # The delivery timeout outlasts the receiver's hold: had the other requests to
        # wait for the test-fires, they would answer only after the held ones ended.
        server = Server(processes, db, tmp_path, args=[
            "--allow-private-targets", "--test-fire-limit", str(LIMIT),
            "--delivery-timeout", "120"])
        events = Events()
        with httpx.Client(base_url=server.base, timeout=180,
                          headers={"Authorization": f"Bearer {demo}"}) as mine, \
                httpx.Client(base_url=server.base, timeout=180,
                             headers={"Authorization": f"Bearer {other}"}) as theirs:
            slow_hook = create(mine, "slow", held.url("/held"))
            quick_hook = create(theirs, "quick", quick.url("/quick"))

            def fire(_: int) -> httpx.Response:
                with httpx.Client(base_url=server.base, timeout=180,
                                  headers={"Authorization": f"Bearer {demo}"}) as client:
                    answer = client.post(f"/v1/webhooks/{slow_hook}/test")
                events.note(f"test-fire {answer.status_code}")
                return answer

            with ThreadPoolExecutor(max_workers=FIRES) as pool:
                futures = [pool.submit(fire, i) for i in range(FIRES)]
                try:
                    wait_for(lambda: events.count("test-fire 429") == FIRES - LIMIT
                             and len(held.received) == LIMIT,
                             f"{FIRES - LIMIT} refusals and {LIMIT} held test-fires")
                    health = mine.get("/healthz")
                    events.note(f"healthz {health.status_code}")
                    listed = theirs.get("/v1/webhooks")
                    events.note(f"other merchant's list {listed.status_code}")
                    theirs_fired = theirs.post(f"/v1/webhooks/{quick_hook}/test")
                    events.note(f"other merchant's test-fire {theirs_fired.status_code}")
                    still_held = (len(held.received) == LIMIT
                                  and events.count("test-fire 200") == 0)
                    events.note("release")
                finally:
                    held.answer_all()  # the held ones are dropped unanswered: not delivered
                answers = [f.result() for f in futures]
    finally:
        held.close()
        quick.close()

    assert still_held
    release = events.first("release")
    assert events.first("healthz 200") < release
    assert events.first("other merchant's list 200") < release
    assert events.first("other merchant's test-fire 200") < release
    assert events.first("test-fire 200") > release
    assert events.count("test-fire 200") == LIMIT
    assert [w["name"] for w in listed.json()["data"]] == ["quick"]
    assert theirs_fired.json()["delivered"] is True and len(quick.acked) == 1

    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) == FIRES - LIMIT and len(held.received) == LIMIT
    for answer in refused:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"].isdigit()
        problem = answer.json()
        assert problem["status"] == 429 and f"{LIMIT} test-fire(s) in flight" in problem["detail"]
    fired = [a.json() for a in answers if a.status_code == 200]
    assert all(result["delivered"] is False for result in fired)
    log = server.log_text()
    assert "internal error" not in log and "Traceback" not in log


def test_the_cli_says_clearly_when_test_fires_are_refused(
        tmp_path: Path, processes: Processes) -> None:
    db = tmp_path / "bo.db"
    token, _ = seed(db)
    held = Receiver(answer_first=0)
    try:
        server = Server(processes, db, tmp_path, args=[
            "--allow-private-targets", "--test-fire-limit", "1", "--delivery-timeout", "120"])
        with httpx.Client(base_url=server.base, timeout=180,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            hook = create(client, "slow", held.url("/held"))
            with ThreadPoolExecutor(max_workers=1) as pool:
                first = pool.submit(client.post, f"/v1/webhooks/{hook}/test")
                wait_for(lambda: len(held.received) == 1, "the first test-fire held")
                config = tmp_path / "webhooks.yaml"
                config.write_text("version: 1\nowner: team\nwebhooks: {}\n")
                result = run_cli("test", "slow", "--file", str(config),
                                 env=api_env(server.base, token), cwd=tmp_path, timeout=120)
                held.answer_all()
                assert first.result().status_code == 200
    finally:
        held.close()
    assert result.returncode == 1, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "busy" in message and "429" in message
    assert "1 test-fire(s) in flight" in message and "retry after" in message
    assert "Traceback" not in result.stderr and token not in result.stderr
    assert len(held.received) == 1  # the refused ones never reached the receiver

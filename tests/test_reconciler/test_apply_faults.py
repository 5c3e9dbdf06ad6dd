"""`webhooks apply` as a process, through a fault-injecting proxy, against `webhooks serve`.

Each scenario is one merchant on one shared server, starting from BEFORE. Its apply
(3 creates, 2 updates, 2 deletes, 1 unchanged, to reach AFTER) runs as its own process
through its own proxy, which breaks the traffic in one way. The scenarios run at the
same time (each mostly waits: on backoff, Retry-After, timeouts), then one test per
scenario checks the backoffice: exactly the config's webhooks, no duplicate, each
webhook's version = 1 + the changes applied to it (so no change was applied twice), and
a plan with no changes.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.apply import apply_plan
from reconciler.cli import main
from reconciler.config import load_config
from reconciler.plan import build_plan
from reconciler.providers.http import HttpProvider
from tests.support.faultproxy import (
    LATE,
    LOSE,
    RESET,
    SLOW,
    STATUS,
    STATUS_AFTER,
    Fault,
    FaultProxy,
    Seen,
)
from tests.support.processes import Processes
from tests.support.serve import (
    Server,
    api_env,
    remote,
    run_cli,
    seed,
    seed_merchants,
    url_hook,
    write_config,
)

pytestmark = pytest.mark.slow
WRITES = (("POST", "/v1/webhooks"), ("PATCH", "/v1/webhooks/"), ("DELETE", "/v1/webhooks/"))
BEFORE = {"keep": url_hook("keep"), "upd-1": url_hook("upd-1"), "upd-2": url_hook("upd-2"),
          "del-1": url_hook("del-1"), "del-2": url_hook("del-2")}
AFTER = {"keep": url_hook("keep"),
         "upd-1": url_hook("upd-1", description="changed"),
         "upd-2": url_hook("upd-2", notifications=["mbway", "xpay"]),
         "new-1": url_hook("new-1"), "new-2": url_hook("new-2"), "new-3": url_hook("new-3")}
EXPECTED_VERSIONS = {"keep": 1, "upd-1": 2, "upd-2": 2, "new-1": 1, "new-2": 1, "new-3": 1}
COMPLETE = "Apply complete: 3 created, 2 updated, 2 deleted."
TIMEOUT, DELAY = "1.0", 1.5  # the client's timeout, and how late SLOW and LATE answer


def on_writes(kind: str, *, status: int = 503, delay: float = 0.0) -> list[Fault]:
    """The fault on one create, one update and one delete."""
    return [Fault(kind, method=m, path=p, status=status, delay=delay) for m, p in WRITES]


@dataclass(frozen=True)
class Scenario:
    faults: Callable[[], list[Fault]]
    env: dict[str, str] = field(default_factory=dict)
    runs: int = 1  # the runs of apply, one after the other, through the same proxy
    settle: str | None = None  # wait until every fault of this kind reached the server


SCENARIOS = {
    "5xx before the server sees it": Scenario(lambda: [
        *on_writes(STATUS, status=503), Fault(STATUS, "GET", "/v1/webhooks", status=500)]),
    "5xx after the server acted": Scenario(lambda: on_writes(STATUS_AFTER, status=502)),
    "connection reset": Scenario(lambda: [*on_writes(RESET), Fault(RESET, "GET", "/v1/catalog")]),
    "response lost after commit": Scenario(lambda: [
        Fault(LOSE, "POST", "/v1/webhooks"), Fault(LOSE, "PATCH", times=2),
        Fault(LOSE, "DELETE")]),
    "429 with Retry-After": Scenario(lambda: [
        Fault(STATUS, "GET", "/v1/catalog", status=429, retry_after="1"),
        Fault(STATUS, "POST", "/v1/webhooks", status=429, retry_after="1")]),
    # SLOW: the server acts at once, its answer comes after the client's timeout.
    # LATE: the server sees the request only after the client gave up and retried.
    "answer past the timeout": Scenario(lambda: on_writes(SLOW, delay=DELAY),
                                        env={"WEBHOOKS_HTTP_TIMEOUT": TIMEOUT}),
    "request past the timeout": Scenario(lambda: on_writes(LATE, delay=DELAY),
                                         env={"WEBHOOKS_HTTP_TIMEOUT": TIMEOUT}, settle=LATE),
    # Every attempt at every create fails (1 + 4 retries each; Retry-After: 0 keeps it fast).
    "retries exhausted": Scenario(lambda: [Fault(STATUS, "POST", "/v1/webhooks", status=503,
                                                 retry_after="0", times=15)], runs=2),
    # Something else answers at the API URL (a captive portal, a web UI).
    "an HTML page": Scenario(lambda: [Fault(STATUS, "GET", "/v1/catalog", status=200,
                                            body=b"<html>Sign in to the Wi-Fi</html>")]),
    "JSON of another shape": Scenario(lambda: [Fault(STATUS, "GET", "/v1/webhooks",
                                                     status=200, body=b'{"items": []}')]),
}


@dataclass
class Outcome:
    """What one scenario's apply runs did, and what its proxy saw."""

    server: Server
    token: str
    config: Path
    cache: Path
    faults: list[Fault]
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    @property
    def hits(self) -> list[int]:
        return [f.hits for f in self.faults]

    def output(self, run: int = 0) -> str:
        return self.runs[run].stdout + self.runs[run].stderr


async def seed_before(server: Server, token: str, config: Path) -> None:
    provider = HttpProvider(server.base, token)
    try:
        plan = build_plan(load_config(config, catalog=await provider.catalog()),
                          await provider.fetch(), fingerprints=await provider.fingerprints())
        assert (await apply_plan(plan, provider)).ok
    finally:
        await provider.aclose()


def play(scenario: Scenario, outcome: Outcome) -> None:
    write_config(outcome.config, AFTER)
    with FaultProxy(outcome.server.port) as proxy:
        proxy.add(*outcome.faults)
        env = api_env(proxy.url, outcome.token, XDG_CACHE_HOME=str(outcome.cache),
                      **scenario.env)
        for _ in range(scenario.runs):
            outcome.runs.append(run_cli("apply", "-f", str(outcome.config), "--auto-approve",
                                        env=env, cwd=outcome.config.parent))
        if scenario.settle is not None:
            settled = proxy.wait_until(
                lambda seen: sum(s.fault == scenario.settle for s in seen) == 3, 10)
            assert settled, "the late requests never reached the server"
        outcome.seen = proxy.seen()


@pytest.fixture(scope="module")
def outcomes(module_processes: Processes,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every scenario, played at once against one server (a merchant each)."""
    work = tmp_path_factory.mktemp("faults")
    seed(work / "bo.db")
    server = Server(module_processes, work / "bo.db", work)
    names = list(SCENARIOS)
    tokens = seed_merchants(work / "bo.db", [f"faults-{i}" for i in range(len(names))])
    played: dict[str, Outcome] = {}
    for i, (name, token) in enumerate(zip(names, tokens.values(), strict=True)):
        folder = work / f"scenario-{i}"
        folder.mkdir()
        config = write_config(folder / "webhooks.yaml", BEFORE)
        asyncio.run(seed_before(server, token, config))
        played[name] = Outcome(server, token, config, folder / "cache",
                               SCENARIOS[name].faults())
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = [pool.submit(play, SCENARIOS[name], played[name]) for name in names]
        for future in futures:
            future.result(timeout=120)
    return played


def assert_converged(outcome: Outcome, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    for run in outcome.runs:
        assert "Traceback" not in run.stderr and "Internal error" not in run.stderr
    state = remote(outcome.server.base, outcome.token)  # fails on a duplicate name
    assert {name: w["version"] for name, w in state.items()} == EXPECTED_VERSIONS
    assert state["upd-1"]["description"] == "changed"
    assert state["upd-2"]["notifications"] == ["mbway", "xpay"]
    monkeypatch.setenv("WEBHOOKS_API_URL", outcome.server.base)
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", outcome.token)
    assert main(["--no-color", "plan", "-f", str(outcome.config), "--detailed-exitcode"]) == 0
    capsys.readouterr()
    assert not outcome.cache.exists()  # no crash log


@pytest.mark.parametrize("name", ["5xx before the server sees it", "5xx after the server acted",
                                  "connection reset", "answer past the timeout",
                                  "request past the timeout"])
def test_apply_converges_in_one_run_under(name: str, outcomes: dict[str, Outcome],
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    outcome = outcomes[name]
    assert outcome.runs[0].returncode == 0, outcome.output()
    assert COMPLETE in outcome.output()
    assert outcome.hits == [f.times for f in outcome.faults], "a fault was not injected"
    assert_converged(outcome, monkeypatch, capsys)


def test_responses_lost_after_commit_are_replayed_or_confirmed_not_reapplied(
        outcomes: dict[str, Outcome], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    outcome = outcomes["response lost after commit"]
    assert outcome.runs[0].returncode == 0, outcome.output()
    assert outcome.hits == [1, 2, 1] and COMPLETE in outcome.output()
    # A lost create is sent again with its Idempotency-Key: the server replays it (201).
    # A lost PATCH is sent again and meets its own new version (412): confirmed, not
    # applied again. A lost DELETE is sent again and finds the webhook gone (404).
    statuses = {m: sorted(str(s.status) for s in outcome.seen if s.method == m)
                for m in ("POST", "PATCH", "DELETE")}
    assert statuses == {"POST": ["201", "201", "201", "None"],
                        "PATCH": ["412", "412", "None", "None"],
                        "DELETE": ["204", "404", "None"]}
    assert outcome.output().count("updated (confirmed after a retry)") == 2
    assert_converged(outcome, monkeypatch, capsys)


def test_429_retry_after_is_honoured(outcomes: dict[str, Outcome],
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    outcome = outcomes["429 with Retry-After"]
    assert outcome.runs[0].returncode == 0, outcome.output()
    assert outcome.hits == [1, 1]
    catalog = [s for s in outcome.seen if s.path == "/v1/catalog"]
    assert [s.status for s in catalog] == [429, 200]
    assert catalog[1].at - catalog[0].at >= 0.95  # Retry-After: 1, not the 0.5 s backoff
    assert_converged(outcome, monkeypatch, capsys)


def test_retries_exhausted_fail_alone_and_one_rerun_converges(
        outcomes: dict[str, Outcome], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    outcome = outcomes["retries exhausted"]
    first, rerun = outcome.runs
    assert first.returncode == 1, outcome.output(0)
    assert outcome.hits == [15]
    assert [s.status for s in outcome.seen if s.method == "POST"][:15] == [503] * 15
    assert "Apply incomplete: 2 updated, 2 deleted; 3 failed." in outcome.output(0)
    assert "Run apply again to converge." in outcome.output(0)
    assert rerun.returncode == 0, outcome.output(1)
    assert "Apply complete: 3 created." in outcome.output(1)
    assert_converged(outcome, monkeypatch, capsys)


@pytest.mark.parametrize(("name", "what"), [("an HTML page", "catalogue"),
                                            ("JSON of another shape", "webhook list")])
def test_a_garbled_200_is_a_clear_error_not_a_bug(name: str, what: str,
                                                  outcomes: dict[str, Outcome]) -> None:
    # Before the fix: "Internal error ... this is a bug" (exit 3), and a crash log.
    outcome = outcomes[name]
    assert outcome.runs[0].returncode == 1, outcome.output()
    assert f"Error: the backoffice returned a malformed {what}" in outcome.output()
    assert not outcome.cache.exists()
    assert remote(outcome.server.base, outcome.token).keys() == BEFORE.keys()  # untouched

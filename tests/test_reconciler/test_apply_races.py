"""Two `webhooks apply` processes of different configs (one owner) against one server.

No lost update: the second writer of a webhook is refused ("changed since plan") rather
than overwriting a change it never saw, and a re-run converges. Made deterministic: a
saved plan made before the other apply ran, and a concurrent apply whose PATCH the
fault proxy holds until the other apply has finished.
"""

from __future__ import annotations

import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.support.faultproxy import HOLD, Fault, FaultProxy
from tests.support.processes import Processes
from tests.support.serve import (
    Server,
    api_env,
    cli_argv,
    remote,
    run_cli,
    seed,
    url_hook,
    write_config,
)

pytestmark = pytest.mark.slow
BASE = {"orders": url_hook("orders"), "refunds": url_hook("refunds")}
CONFIG_A = {"orders": url_hook("orders", description="from A"), "refunds": url_hook("refunds"),
            "a-only": url_hook("a-only")}
CONFIG_B = {"orders": url_hook("orders", description="from B"), "refunds": url_hook("refunds"),
            "b-only": url_hook("b-only")}
_merchants = itertools.count(1)


@pytest.fixture(scope="module")
def server(module_processes: Processes, tmp_path_factory: pytest.TempPathFactory) -> Server:
    work = tmp_path_factory.mktemp("races")
    seed(work / "bo.db")
    return Server(module_processes, work / "bo.db", work)


@dataclass
class Team:
    """A fresh merchant at BASE, and the two configs A and B."""

    server: Server
    token: str
    a: Path
    b: Path

    def apply(self, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
        result = run_cli("apply", *args, env=api_env(url or self.server.base, self.token),
                         cwd=self.a.parent)
        assert "Traceback" not in result.stderr
        return result


@pytest.fixture
def team(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Team:
    merchant = f"race{next(_merchants)}"
    token, _ = seed(server.db_path, merchant=merchant)
    monkeypatch.setenv("WEBHOOKS_API_URL", server.base)
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", token)
    base = write_config(tmp_path / "base.yaml", BASE)
    assert main(["--no-color", "apply", "-f", str(base), "--auto-approve"]) == 0
    capsys.readouterr()
    return Team(server, token, write_config(tmp_path / "a.yaml", CONFIG_A),
                write_config(tmp_path / "b.yaml", CONFIG_B))


def plan(config: Path, *args: str) -> int:
    """`webhooks plan` in-process, against the server the environment names."""
    return main(["--no-color", "plan", "-f", str(config), *args])


def versions(team: Team) -> dict[str, tuple[int, str]]:
    return {name: (w["version"], w["description"])
            for name, w in remote(team.server.base, team.token).items()}


def test_a_saved_plan_made_before_another_apply_is_refused_whole(
        team: Team, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_a, plan_b = tmp_path / "a.plan.json", tmp_path / "b.plan.json"
    assert plan(team.a, "--out", str(plan_a)) == 0
    assert plan(team.b, "--out", str(plan_b)) == 0
    capsys.readouterr()

    first = team.apply(str(plan_a), "-f", str(team.a))
    assert first.returncode == 0, first.stderr
    second = team.apply(str(plan_b), "-f", str(team.b))
    assert second.returncode == 1
    assert "is stale; nothing was applied" in second.stderr
    assert "orders: changed since the plan" in second.stderr
    # A's update stands, and nothing of B's plan was applied (not even its create).
    assert versions(team) == {"orders": (2, "from A"), "refunds": (1, ""),
                              "a-only": (1, "")}

    rerun = team.apply("-f", str(team.b), "--auto-approve")
    assert rerun.returncode == 0, rerun.stderr
    assert "Apply complete: 1 created, 1 updated, 1 deleted." in rerun.stdout
    assert versions(team) == {"orders": (3, "from B"), "refunds": (1, ""),
                              "b-only": (1, "")}
    assert plan(team.b, "--detailed-exitcode") == 0


def test_concurrent_applies_the_later_write_gets_412_not_a_lost_update(
        team: Team, processes: Processes) -> None:
    with FaultProxy(team.server.port) as proxy:
        proxy.add(Fault(HOLD, "PATCH"))  # B's update waits here, its plan already made
        b_process = processes.popen(
            cli_argv("apply", "-f", str(team.b), "--auto-approve"),
            # A long timeout: B's held update must not time out and be sent again.
            env=api_env(proxy.url, team.token, WEBHOOKS_HTTP_TIMEOUT="120"),
            cwd=team.b.parent,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proxy.held.wait(30), "B never sent its update"
        assert proxy.wait_until(lambda seen: any(s.status == 201 for s in seen), 30)

        # A plans now: B's create is there (same owner, not in A's config: A deletes it).
        a_result = team.apply("-f", str(team.a), "--auto-approve")
        assert a_result.returncode == 0, a_result.stderr
        assert "Apply complete: 1 created, 1 updated, 1 deleted." in a_result.stdout
        assert versions(team)["orders"] == (2, "from A")

        proxy.release.set()
        b_out, _ = b_process.communicate(timeout=60)
        patches = [s.status for s in proxy.seen() if s.method == "PATCH"]
    b_text = b_out.decode()
    assert b_process.returncode == 1, b_text
    assert patches == [412]  # B's If-Match named version 1; A had made it 2
    assert "orders: FAILED: changed since plan" in b_text
    assert "Apply incomplete: 1 created; 1 failed." in b_text
    # No lost update: orders still holds A's change, which B never saw.
    assert versions(team) == {"orders": (2, "from A"), "refunds": (1, ""), "a-only": (1, "")}

    rerun = team.apply("-f", str(team.b), "--auto-approve")
    assert rerun.returncode == 0, rerun.stderr
    # b-only again: the create in this run gets a new Idempotency-Key, not a replay of
    # the first run's create of a webhook A has deleted since.
    assert "Apply complete: 1 created, 1 updated, 1 deleted." in rerun.stdout
    assert versions(team) == {"orders": (3, "from B"), "refunds": (1, ""),
                              "b-only": (1, "")}
    assert plan(team.b, "--detailed-exitcode") == 0

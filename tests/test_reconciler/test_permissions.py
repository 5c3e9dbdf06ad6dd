"""Permission is checked before any write, and "run apply again" is said only when it helps.

Against `webhooks serve` on loopback: a read token may plan, list and show; `apply`
(creates, and deletes alike) and `test` stop before changing anything, with one message
saying a manage token is needed, asked of the backoffice's ``/v1/whoami``. After a
failure, "Run apply again to converge" appears only for failures a new run can get past.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply import ApplyReport, ChangeResult, apply_plan, rerun_helps
from reconciler.cli import main
from reconciler.errors import (
    AuthenticationError,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ProviderError,
    Unavailable,
)
from reconciler.plan import Action
from reconciler.providers import Provider
from tests.support.plan_samples import build_plan, config, spec
from tests.support.processes import Processes
from tests.support.serve import Server, api_env, remote, seed, url_hook, write_config

NEEDS_MANAGE = "needs a manage token"


@pytest.fixture
def served(tmp_path: Path, processes: Processes) -> tuple[Server, str, str]:
    manage, read = seed(tmp_path / "bo.db")
    return Server(processes, tmp_path / "bo.db", tmp_path), manage, read


def webhooks(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
             env: dict[str, str], *args: str) -> tuple[int, str, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["--no-color", *args])
    out, err = capfd.readouterr()
    return code, out, err


def test_a_read_token_stops_apply_deletes_and_test_before_any_write(
        served: tuple[Server, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    server, manage, read = served
    cfg = write_config(tmp_path / "webhooks.yaml",
                       {"orders": url_hook("orders"), "refunds": url_hook("refunds")})
    as_reader, as_manager = api_env(server.base, read), api_env(server.base, manage)

    code, out, err = webhooks(capfd, monkeypatch, as_reader, "plan", "-f", str(cfg))
    assert code == 0 and out.startswith(
        f"Backoffice: {server.base} (token from WEBHOOKS_API_TOKEN)\n"), out + err
    assert read not in out + err
    code, out, err = webhooks(capfd, monkeypatch, as_reader, "apply", "-f", str(cfg),
                              "--auto-approve")
    assert code == 1, out + err
    assert f"`webhooks apply` {NEEDS_MANAGE}" in err and "nothing was changed" in err
    assert err.count(NEEDS_MANAGE) == 1 and "Run apply again" not in out + err
    assert remote(server.base, manage) == {}  # not one create was tried

    assert webhooks(capfd, monkeypatch, as_manager, "apply", "-f", str(cfg),
                    "--auto-approve")[0] == 0
    code, out, err = webhooks(capfd, monkeypatch, as_reader, "test", "orders", "-f", str(cfg))
    assert code == 1 and f"`webhooks test` {NEEDS_MANAGE}" in err, out + err
    # Deletes: the config no longer declares them.
    write_config(cfg, {})
    code, out, err = webhooks(capfd, monkeypatch, as_reader, "apply", "-f", str(cfg),
                              "--auto-approve")
    assert code == 1 and f"`webhooks apply` {NEEDS_MANAGE}" in err, out + err
    assert "- delete orders" in out  # the plan was shown, then refused whole
    assert sorted(remote(server.base, manage)) == ["orders", "refunds"]
    assert read not in out + err and manage not in out + err


@pytest.mark.anyio
async def test_whoami_names_the_merchant_and_scopes(served: tuple[Server, str, str]) -> None:
    from reconciler.providers.http import HttpProvider

    server, manage, read = served
    for token, scopes in ((manage, {"webhooks:read", "webhooks:reveal", "webhooks:manage"}),
                          (read, {"webhooks:read"})):
        provider = HttpProvider(server.base, token)
        try:
            identity = await provider.whoami()
        finally:
            await provider.aclose()
        assert identity is not None and identity.merchant == "demo"
        assert identity.scopes == scopes and identity.can_manage is (token == manage)


@pytest.mark.parametrize(("error", "helps"), [
    (Unavailable("cannot reach the backoffice: connection refused"), True),
    (Unavailable("the backoffice failed (503)", status=503), True),
    (Unavailable("busy (429)", status=429), True),
    (ProviderError("the backoffice returned a malformed webhook"), True),
    (PreconditionFailed("changed since plan", status=412), True),
    (Conflict("name taken", status=409), True),
    (NotFound("gone", status=404), True),
    (AuthenticationError("rejected the API token (401)", status=401), False),
    (PermissionDenied("lacks the permission", status=403), False),
    (InvalidRequest("refused: url is not valid", status=422), False),
    (InvalidRequest("too large", status=413), False),
])
def test_rerun_helps_only_with_what_passes(error: ProviderError, helps: bool) -> None:
    assert rerun_helps(error) is helps
    report = ApplyReport([ChangeResult("w", Action.CREATE, False, str(error), 0.1,
                                       rerun_helps=rerun_helps(error))])
    line = report.summary_line()
    assert ("Run apply again to converge" in line) is helps, line
    assert ("will not help until what failed is fixed" in line) is not helps, line


@pytest.mark.anyio
async def test_a_refused_change_does_not_say_run_again(provider: Provider) -> None:
    # A URL the backoffice refuses (validate would have; this plan skipped it): 422 every
    # time, so a second run cannot help, while an interrupted run's summary still says so.
    bad = spec("refused", url="ftp://hooks.shop.example/x")
    report = await apply_plan(build_plan(config(bad, spec("fine")), []), provider)
    assert [r.ok for r in report.results] == [True, False] or \
        [r.ok for r in report.results] == [False, True]
    assert "will not help until what failed is fixed" in report.summary_line()
    assert "Run apply again" not in report.summary_line()
    assert "Run apply again to converge" in ApplyReport(interrupted=True, not_started=[
        build_plan(config(spec("later")), []).changes[0]]).summary_line()

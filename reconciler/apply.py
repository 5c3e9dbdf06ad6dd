"""Execute a Plan through a provider: creates, updates and replaces first, deletes last.

Independent changes run concurrently (bounded by ``parallelism``); a failed change
does not stop the others. Creates carry an ``Idempotency-Key`` stable across the run's
retries, so a create retried after a lost response returns the first result; updates and
deletes carry ``If-Match`` with the version the plan saw, so a change made by someone
else since the plan fails as "changed since plan" instead of being overwritten. When
``stop`` is set (Ctrl-C), no new change starts; the ones in flight finish.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import (
    AuthenticationError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ProviderError,
)
from reconciler.model import RemoteWebhook
from reconciler.plan import Action, Change, Plan
from reconciler.plan.drift import last_applied
from reconciler.plan.payload import create_body, idempotency_key, matches_spec, update_patch
from reconciler.providers.base import Provider
from reconciler.testfire import outcome, proof, proves_secret

PAST = {Action.CREATE: "created", Action.UPDATE: "updated", Action.REPLACE: "replaced",
        Action.DELETE: "deleted"}


@dataclass(frozen=True)
class ChangeResult:
    """How one change went."""

    name: str
    action: Action
    ok: bool
    message: str
    seconds: float
    remote: RemoteWebhook | None = field(default=None, repr=False)
    rerun_helps: bool = True  # a failure that running apply again may get past

    @property
    def data(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name, "action": str(self.action), "ok": self.ok,
            "message": self.message, "seconds": round(self.seconds, 4),
        }
        if self.remote is not None:
            out["id"] = self.remote.id
            out["version"] = self.remote.version
        return out


@dataclass
class ApplyReport:
    """Every change's result, and the changes never started (interrupted)."""

    results: list[ChangeResult] = field(default_factory=list)
    not_started: list[Change] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[ChangeResult]:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_started

    def summary_line(self) -> str:
        done = {a: sum(1 for r in self.results if r.ok and r.action is a) for a in Action}
        parts = [f"{done[a]} {PAST[a]}" for a in Action if done[a]] or ["nothing changed"]
        text = ", ".join(parts)
        if self.ok:
            return f"Apply complete: {text}."
        extra = []
        if self.failed:
            extra.append(f"{len(self.failed)} failed")
        if self.not_started:
            extra.append(f"{len(self.not_started)} not started")
        head = "Apply interrupted" if self.interrupted else "Apply incomplete"
        if any(not r.rerun_helps for r in self.failed):
            # A refused token or a rejected value fails the same way every time.
            return (f"{head}: {text}; {', '.join(extra)}. Running apply again will not "
                    "help until what failed is fixed (see below).")
        return f"{head}: {text}; {', '.join(extra)}. Run apply again to converge."

    @property
    def data(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "interrupted": self.interrupted,
            "summary": self.summary_line(),
            "results": [r.data for r in self.results],
            "not_started": [c.name for c in self.not_started],
        }


ResultCallback = Callable[[ChangeResult], None]


def rerun_helps(exc: ProviderError) -> bool:
    """Whether running apply again may get past this failure: yes for what passes
    (network errors, timeouts, 429 and 5xx after retries, a change made since the plan,
    a name taken or a webhook gone meanwhile: the next run plans again); no for a refused
    token (401, 403) or a value the backoffice rejects (400, 413, 422)."""
    if isinstance(exc, AuthenticationError | PermissionDenied | InvalidRequest):
        return False
    return exc.status is None or exc.status >= 500 or exc.status in (404, 409, 412, 429)


class Applier:
    """Runs one plan's changes against one provider."""

    def __init__(self, plan: Plan, provider: Provider, *, parallelism: int = 8,
                 on_result: ResultCallback | None = None,
                 stop: asyncio.Event | None = None) -> None:
        self.plan = plan
        self.provider = provider
        self.parallelism = max(1, parallelism)
        self.on_result = on_result
        self.stop = stop or asyncio.Event()
        self.report = ApplyReport()
        self.run_id = secrets.token_hex(16)  # part of every create's Idempotency-Key

    async def run(self) -> ApplyReport:
        first = [c for c in self.plan.changes if c.action is not Action.DELETE]
        last = [c for c in self.plan.changes if c.action is Action.DELETE]
        await self._phase(first)
        await self._phase(last)
        self.report.interrupted = self.stop.is_set()
        return self.report

    async def _phase(self, changes: Sequence[Change]) -> None:
        queue = list(reversed(changes))

        async def worker() -> None:
            while queue and not self.stop.is_set():
                await self._one(queue.pop())

        await asyncio.gather(*(worker() for _ in range(min(self.parallelism, len(queue)))))
        self.report.not_started.extend(reversed(queue))

    async def _one(self, change: Change) -> None:
        started = time.perf_counter()
        try:
            remote, message = await self._execute(change)
            result = ChangeResult(change.name, change.action, True, message,
                                  time.perf_counter() - started, remote)
        except ProviderError as exc:
            result = ChangeResult(change.name, change.action, False, str(exc),
                                  time.perf_counter() - started, rerun_helps=rerun_helps(exc))
        self.report.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    async def _execute(self, change: Change) -> tuple[RemoteWebhook | None, str]:
        seen = change.precondition
        if change.action is Action.CREATE:
            return await self._create(change), PAST[Action.CREATE]
        assert seen.id is not None
        if change.action is Action.DELETE:
            await self._delete(seen.id, seen.version)
            return None, PAST[Action.DELETE]
        if change.action is Action.REPLACE:
            await self._delete(seen.id, seen.version)
            return await self._create(change), "replaced (deleted, then created)"
        return await self._update(change, seen.id, seen.version)

    async def _create(self, change: Change) -> RemoteWebhook:
        assert change.spec is not None
        body = create_body(change.spec, self.plan.owner)
        body["applied"] = last_applied(self.plan, change)
        key = idempotency_key(self.plan.config_digest, change, self.run_id)
        return await self.provider.create(body, idempotency_key=key)

    async def _delete(self, webhook_id: str, version: int | None) -> None:
        try:
            await self.provider.delete(webhook_id, if_match=version)
        except NotFound:
            # Gone already: a retried delete whose first response was lost, or someone
            # else removed it. Either way the backoffice is where the plan wants it.
            return

    async def _update(self, change: Change, webhook_id: str,
                      version: int | None) -> tuple[RemoteWebhook, str]:
        patch = update_patch(change, self.plan.owner)
        patch["applied"] = last_applied(self.plan, change)
        try:
            remote = await self.provider.update(webhook_id, patch, if_match=version)
        except PreconditionFailed:
            # A retried PATCH whose first response was lost meets its own new version:
            # if the webhook now is exactly what we wanted, the update did happen.
            current = await self.provider.get(webhook_id)
            if version is not None and current.version == version + 1 and matches_spec(
                change, self.plan.owner, current, await self.provider.fingerprints()
            ):
                return current, "updated (confirmed after a retry)"
            raise
        fields = ", ".join(dict.fromkeys(f.field for f in change.fields if f.field != "name"))
        verb = "adopted" if change.adopt else "updated"
        if change.renamed_from is not None:
            verb = (f"renamed from {change.renamed_from} (same id, secret and delivery "
                    f"history){', ' + verb if fields else ''}")
        return remote, f"{verb} ({fields})" if fields else verb


def generated_secrets(plan: Plan, report: ApplyReport) -> list[str]:
    """The URL webhooks apply created (or replaced) without a secret from the config: the
    backoffice generated theirs, which their receivers read with `secret reveal`."""
    made = {r.name for r in report.results
            if r.ok and r.action in (Action.CREATE, Action.REPLACE)}
    return [c.name for c in plan.changes
            if c.name in made and c.spec is not None and c.spec.type == "url"
            and (c.spec.secret is None or c.spec.secret.value is None)]


def generated_note(names: list[str]) -> str:
    """One line on where the generated secrets are read ('' for none)."""
    if not names:
        return ""
    if len(names) == 1:
        return (f"{names[0]}: secret generated by the backoffice: read it with "
                f"`webhooks secret reveal {names[0]}`")
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"Secrets generated by the backoffice for {shown}: read each with "
            "`webhooks secret reveal NAME`")


async def apply_plan(plan: Plan, provider: Provider, *, parallelism: int = 8,
                     on_result: ResultCallback | None = None,
                     stop: asyncio.Event | None = None) -> ApplyReport:
    """Apply ``plan``; the report says what was done and what was not."""
    applier = Applier(plan, provider, parallelism=parallelism, on_result=on_result, stop=stop)
    return await applier.run()


# --- test-fire after apply (``test_on_apply: true``, ``apply --test``) ---------------------

TESTED_ACTIONS = frozenset({Action.CREATE, Action.UPDATE, Action.REPLACE})


@dataclass(frozen=True)
class ApplyTestResult:
    """The test-fire of one created or changed URL webhook after apply."""

    name: str
    delivered: bool
    message: str  # "delivered (200 in 12 ms)" or "NOT delivered: <reason>"
    result: dict[str, Any] | None = field(default=None, repr=False)  # the TestResult
    format: str | None = None  # the webhook's delivery format

    @property
    def proves_secret(self) -> bool:
        """Delivered, in a format whose acknowledgement shows the receiver holds the
        secret (sibs); a Standard Webhooks 2xx does not."""
        return self.delivered and proves_secret(self.format)

    @property
    def line(self) -> str:
        if not self.delivered:
            return f"test {self.name}: {self.message}"
        return f"test {self.name}: {self.message}; {proof(self.format)}"

    @property
    def data(self) -> dict[str, object]:
        return {"name": self.name, "delivered": self.delivered, "message": self.message,
                "proves_secret": self.proves_secret, "result": self.result}


TestCallback = Callable[[ApplyTestResult], None]


async def test_changed(plan: Plan, report: ApplyReport, provider: Provider, *, all_url: bool,
                       on_result: TestCallback | None = None) -> list[ApplyTestResult]:
    """Test-fire the URL webhooks apply created or changed, in plan order.

    Those whose config says ``test_on_apply: true``, or every one when ``all_url``
    (``apply --test``). A change that failed is not tested. One at a time: each waits
    for its receiver, and the lines come out in a stable order.
    """
    done = {r.name: r for r in report.results if r.ok and r.action in TESTED_ACTIONS}
    tests: list[ApplyTestResult] = []
    for change in plan.changes:
        applied = done.get(change.name)
        spec = change.spec
        if applied is None or applied.remote is None or spec is None:
            continue
        if applied.remote.type != "url" or not (all_url or spec.test_on_apply):
            continue
        try:
            result = await provider.test(applied.remote.id)
            item = ApplyTestResult(change.name, result.get("delivered") is True,
                                   outcome(result), result, applied.remote.format)
        except ProviderError as exc:
            item = ApplyTestResult(change.name, False, f"NOT delivered: {exc}",
                                   format=applied.remote.format)
        tests.append(item)
        if on_result is not None:
            on_result(item)
    return tests

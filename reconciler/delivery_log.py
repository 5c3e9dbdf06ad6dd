"""What ``deliveries``, ``resend``, ``recover``, ``deliver`` and ``emit --wait`` ask of a
provider: the log with webhook names, following it, and waiting for outcomes.

On the embedded backoffice nothing delivers in the background, so the commands that
deliver there call ``Provider.run_due`` (a server's provider answers 0: its worker
delivers). ``reconciler.render.deliveries`` shows what these return.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from contract import times
from reconciler.details import find
from reconciler.errors import ReconcilerError
from reconciler.providers import Provider
from reconciler.providers.base import DeliveryQuery
from reconciler.render.terminal import printable

ROUND_S: Final = 10.0  # how long a command that reads the log goes on delivering (embedded)
OUTCOME_STATUSES: Final = ("delivered", "failed", "gave_up")
FAILED: Final = ("failed", "gave_up")


def since_moment(text: str) -> str:
    """``--since``: a duration ago (``2h``) or an ISO-8601 moment, as an ISO-8601 moment."""
    try:
        return times.iso_millis(times.parse_moment(text))
    except (ValueError, OverflowError) as exc:
        raise ReconcilerError(f"--since: {printable(str(exc))}") from None


def has_outcome(delivery: Mapping[str, Any]) -> bool:
    """The delivery has been attempted at least once (or was settled without an attempt)."""
    attempts = delivery.get("attempts")
    return delivery.get("status") in OUTCOME_STATUSES or (isinstance(attempts, int)
                                                          and attempts > 0)


async def resolve(provider: Provider, name: str | None,
                  query: DeliveryQuery) -> tuple[DeliveryQuery, dict[str, str]]:
    """The query narrowed to the webhook called ``name`` (NotFound with close names when
    there is none), and the merchant's webhook names by id."""
    webhooks = await provider.fetch()
    names = {w.id: w.name for w in webhooks}
    if name is None:
        return query, names
    webhook = find(webhooks, name, provider.description)
    return DeliveryQuery(webhook=webhook.id, status=query.status, since=query.since,
                         notification=query.notification), names


Sleep = Callable[[float], Awaitable[None]]


async def follow(provider: Provider, query: DeliveryQuery, *, limit: int, interval: float,
                 show: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None],
                 seen: Mapping[str, Mapping[str, Any]], max_polls: int | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
    """Poll the log every ``interval`` seconds; ``show(changed, before)`` gets each new
    delivery or one whose status or attempts changed (oldest first) and what it was
    (``{}`` for a new one). Until cancelled (Ctrl-C), or ``max_polls`` polls."""
    known = {key: dict(value) for key, value in seen.items()}
    polls = 0
    while max_polls is None or polls < max_polls:
        await sleep(interval)
        await provider.run_due(seconds=interval)
        current = await provider.find_deliveries(query, limit=limit)
        changed, before = [], []
        for delivery in reversed(current):
            old = known.get(str(delivery.get("id")), {})
            if (old.get("status"), old.get("attempts")) != (delivery.get("status"),
                                                            delivery.get("attempts")):
                changed.append(delivery)
                before.append(old)
                known[str(delivery.get("id"))] = delivery
        if changed:
            show(changed, before)
        polls += 1


async def wait_for_outcomes(provider: Provider, notification_id: str, expected: int, *,
                            seconds: float, sleep: Sleep = asyncio.sleep,
                            clock: Callable[[], float] = time.monotonic
                            ) -> list[dict[str, Any]]:
    """The notification's deliveries once each has its first outcome, or as they are
    when ``seconds`` have passed. Delivers what is due meanwhile (embedded); on a server
    polls the log, at most a second apart."""
    deadline = clock() + seconds
    query = DeliveryQuery(notification=notification_id)
    pause = 0.05
    while True:
        left = deadline - clock()
        if left > 0:
            await provider.run_due(seconds=left)
        found = await provider.find_deliveries(query, limit=max(1, expected))
        if (len(found) >= expected and all(has_outcome(d) for d in found)) \
                or clock() >= deadline:
            return found
        await sleep(min(pause, max(0.0, deadline - clock())))
        pause = min(pause * 2, 1.0)


def failures(deliveries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The deliveries that failed or have no outcome yet."""
    return [d for d in deliveries if d.get("status") in FAILED or not has_outcome(d)]

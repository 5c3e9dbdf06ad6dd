"""Recording what attempts did: a delivery's new state and its attempt row, in groups.

An attempt's outcome becomes a ``Finished``; ``write`` records a group of them in the
caller's write transaction (one commit, one fsync, for the lot), each still conditional
on its claim: a claim another worker has taken over since (its lease ran out) writes
nothing. ``report`` logs an outcome, and is called only once its transaction committed,
so nothing is said about an outcome a crash could still lose.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from backoffice.db import delivery_queries as dq
from backoffice.delivery.sender import Outcome
from contract.times import iso_millis

log = logging.getLogger("backoffice.delivery")


@dataclass(frozen=True)
class Finished:
    """One attempt that ended, waiting to be recorded under its claim."""

    delivery_id: str
    pk: int
    claim: str
    attempts_before: int
    outcome: Outcome
    test: bool
    final: bool  # no retry whatever the schedule (the webhook was disabled)
    finished: datetime  # when the attempt ended
    webhook_id: str
    webhook_pk: int = 0


def rows(done: Finished, schedule: Sequence[float]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the delivery's new values, the attempt's row) for an outcome."""
    outcome, attempts = done.outcome, done.attempts_before + 1
    next_attempt: str | None = None
    if outcome.delivered:
        status = "delivered"
    elif done.test or done.final or attempts > len(schedule):
        status = "gave_up"
    else:
        status = "failed"
        next_attempt = iso_millis(done.finished + timedelta(seconds=schedule[attempts - 1]))
    values = {
        "status": status, "attempts": attempts, "last_attempt_at": iso_millis(done.finished),
        "next_attempt_at": next_attempt, "last_status_code": outcome.status,
        "last_error": None if outcome.delivered else _text(outcome.reason[:500]),
        "response_excerpt": _text(outcome.body_excerpt) or None,
    }
    took = max(0, round(outcome.duration_ms))
    attempt = {
        "number": attempts,
        "started_at": iso_millis(done.finished - timedelta(milliseconds=took)),
        "duration_ms": took, "outcome": "delivered" if outcome.delivered else "failed",
        "status_code": outcome.status,
        "error": None if outcome.delivered else _text(outcome.reason[:2000]),
        "response_excerpt": _text(outcome.body_excerpt) or None,
    }
    return values, attempt


def _text(text: str) -> str:
    """A receiver's words as a database can store them: PostgreSQL text holds no NUL."""
    return text.replace("\x00", "\ufffd")


def write(conn: Connection, group: Sequence[Finished],
          schedule: Sequence[float]) -> list[tuple[bool, str | None]]:
    """Record each outcome of ``group`` whose claim still holds, in the caller's
    transaction; for each: (recorded, the next attempt's time if any)."""
    planned = [(done.pk, done.claim, *rows(done, schedule)) for done in group]
    kept = dq.finish_deliveries(conn, planned)
    return [(ok, values["next_attempt_at"])
            for ok, (_, _, values, _) in zip(kept, planned, strict=True)]


def report(done: Finished, kept: bool, next_attempt: str | None) -> None:
    """Log a committed outcome (or that the claim was lost and nothing was written)."""
    attempts = done.attempts_before + 1
    if not kept:
        log.warning("delivery %s: attempt %d took longer than its lease; another worker "
                    "has it now", done.delivery_id, attempts)
    elif done.outcome.delivered:
        log.info("delivery %s to webhook %s: delivered (attempt %d, %.1f ms)",
                 done.delivery_id, done.webhook_id, attempts, done.outcome.duration_ms)
    else:
        then = f"retry at {next_attempt}" if next_attempt else "no more retries"
        log.warning("delivery %s to webhook %s: attempt %d failed: %s; %s",
                    done.delivery_id, done.webhook_id, attempts, done.outcome.reason, then)


class Tally:
    """Committed outcomes since this process started, for the metrics: attempts by the
    state they left the delivery in (delivered, failed: a retry is due, gave_up) and
    test or not; failed attempts by the class of the answer (none, 2xx, ... 5xx)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts: Counter[tuple[str, bool]] = Counter()
        self.failures: Counter[str] = Counter()

    def note(self, done: Finished, kept: bool, next_attempt: str | None) -> None:
        if not kept:  # the claim was lost: the worker that holds it now counts it
            return
        outcome = done.outcome
        state = "delivered" if outcome.delivered else "failed" if next_attempt else "gave_up"
        with self._lock:
            self.attempts[state, done.test] += 1
            if not outcome.delivered:
                answer = "none" if outcome.status is None else f"{outcome.status // 100}xx"
                self.failures[answer] += 1

    def counts(self) -> tuple[dict[tuple[str, bool], int], dict[str, int]]:
        with self._lock:
            return dict(self.attempts), dict(self.failures)

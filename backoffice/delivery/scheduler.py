"""Scheduling deliveries per destination: slots, claims, a pool of senders, group commits.

One ``Dispatcher`` thread owns every write the delivery engine makes. Each cycle is one
write transaction that

1. records the outcomes of the attempts that ended since the last cycle (a group commit:
   many outcomes, one fsync; each conditional on its claim, ``recorder.write``);
2. extends the leases of what this process still holds, every ``heartbeat_s``: attempts
   running and outcomes not yet committed, so a slow attempt or a slow commit never lets
   another worker start the same delivery;
3. claims only what it can send now: as many due deliveries as there are free slots
   (``concurrency`` in all, ``per_webhook`` per webhook), leaving out the webhooks whose
   slots are all busy, taken round-robin across merchants, each claim leased for the
   attempt's deadline plus a margin (``DeliverySettings.lease_s``).

After the commit it logs the outcomes and hands each claimed delivery to a pool thread.
An attempt frees its slot the moment it ends and wakes the dispatcher, which records it
and claims more; no attempt waits for another, so a receiver that hangs holds only its
own webhook's slots. Only an attempt in flight when the process dies can be made twice:
its claim's lease runs out and another worker takes it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Connection

from backoffice.clock import Clock
from backoffice.db import delivery_queries as dq
from backoffice.db.delivery_queries import Candidate, ClaimedDelivery
from backoffice.db.engine import Database
from backoffice.db.webhook_queries import WebhookRecord, get_webhook
from backoffice.delivery import recorder
from backoffice.delivery.recorder import Finished
from backoffice.delivery.sender import Outcome
from backoffice.delivery.settings import DeliverySettings
from backoffice.errors import BackofficeError
from contract.times import iso_millis

log = logging.getLogger("backoffice.delivery")

# Makes one attempt: (outcome, final) for a claimed delivery and its webhook as claimed.
Attempt = Callable[[ClaimedDelivery, WebhookRecord], tuple[Outcome, bool]]
CANDIDATES: Final = 1000  # due deliveries looked at per claim, for fairness across merchants
WEBHOOKS_KEPT: Final = 10_000  # webhook records remembered between claims


def fair_pick(candidates: Sequence[Candidate], want: int, room: dict[int, int],
              per_webhook: int, served: dict[str, int] | None = None) -> list[int]:
    """Up to ``want`` candidates, one merchant after another in turn, none beyond a
    webhook's ``room`` (free slots; ``per_webhook`` when absent). Merchants take turns
    least recently served first (``served``: merchant -> the turn it last had, updated
    here), then in the order of their first candidate (the oldest due first)."""
    queues: dict[str, deque[Candidate]] = {}
    for candidate in candidates:
        queues.setdefault(candidate.merchant_id, deque()).append(candidate)
    turns = served if served is not None else {}
    order = sorted(queues, key=lambda merchant: turns.get(merchant, -1))
    turn = max(turns.values(), default=-1) + 1
    left = dict(room)
    picked: list[int] = []
    while order and len(picked) < want:
        for merchant in list(order):
            queue = queues[merchant]
            while queue and left.get(queue[0].webhook_pk, per_webhook) <= 0:
                queue.popleft()
            if not queue:
                order.remove(merchant)
                continue
            chosen = queue.popleft()
            picked.append(chosen.pk)
            left[chosen.webhook_pk] = left.get(chosen.webhook_pk, per_webhook) - 1
            turns[merchant] = turn
            turn += 1
            if len(picked) >= want:
                break
    return picked


class Dispatcher:
    """Runs deliveries: ``run`` until ``stop`` (the worker), or ``drain`` (synchronous)."""

    def __init__(self, db: Database, settings: DeliverySettings, clock: Clock,
                 attempt: Attempt, *, wake: threading.Event | None = None,
                 now: datetime | None = None, tally: recorder.Tally | None = None) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self._tally = tally  # counts the committed outcomes (for the metrics)
        self._attempt = attempt
        self._now = now  # a fixed moment (deliver_due(now=...)), else the clock
        self._wake = wake if wake is not None else threading.Event()
        self._lock = threading.Lock()
        self._busy: Counter[int] = Counter()  # webhook pk -> attempts running
        self._running = 0
        self._finished: list[Finished] = []  # ended, outcome not committed yet
        self._held: dict[int, str] = {}  # delivery pk -> claim: running or not committed
        self._last_beat = time.monotonic()
        self._served: dict[str, int] = {}  # merchant -> its last turn (round-robin)
        self._webhooks: dict[int, WebhookRecord] = {}  # pk -> as read last (see _webhook)
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency,
                                        thread_name_prefix="delivery")
        self.attempted = 0
        self.cycles = 0

    def _moment(self) -> datetime:
        return self.clock() if self._now is None else self._now

    # --- one cycle -------------------------------------------------------------------

    def cycle(self, *, claim: int, exclude: set[int] | None = None) -> int:
        """Record what ended, extend leases if due, claim up to ``claim`` (and what the
        free slots allow); returns how many were claimed and handed to the pool."""
        s = self.settings
        with self._lock:
            group = self._finished[:s.group_commit]
            del self._finished[:len(group)]
            want = min(claim, s.concurrency - self._running)
            room = {pk: s.per_webhook - n for pk, n in self._busy.items() if n}
            held = dict(self._held)
        beat = bool(held) and time.monotonic() - self._last_beat >= s.heartbeat_s
        if not group and not beat and want <= 0:
            return 0
        started = self._moment()
        lease_until = iso_millis(started + timedelta(seconds=s.lease_s))
        token = secrets.token_hex(16)
        claimed: list[ClaimedDelivery] = []
        records: dict[str, WebhookRecord | None] = {}
        try:
            with self.db.write() as conn:
                written = recorder.write(conn, group, s.retry_schedule)
                if beat:
                    dq.extend_leases(conn, held, set(held.values()), lease_until)
                if want > 0:
                    now = iso_millis(started)
                    candidates = dq.due_candidates(
                        conn, now=now, per_webhook=s.per_webhook, limit=CANDIDATES,
                        full=[pk for pk, free in room.items() if free <= 0],
                        exclude=held.keys() | (exclude or set()))  # never our own twice
                    chosen = fair_pick(candidates, want, room, s.per_webhook, self._served)
                    claimed = dq.claim_rows(conn, chosen, now=now, lease_until=lease_until,
                                            claim=token)
                    for item in claimed:
                        if item.webhook_id not in records:
                            records[item.webhook_id] = self._webhook(conn, item)
        except Exception:
            with self._lock:  # nothing was written: the outcomes wait for the next cycle
                self._finished[:0] = group
            raise
        if beat:
            self._last_beat = time.monotonic()
        with self._lock:
            for done in group:
                if self._held.get(done.pk) == done.claim:
                    del self._held[done.pk]
        for done, (kept, next_attempt) in zip(group, written, strict=True):
            recorder.report(done, kept, next_attempt)
            if self._tally is not None:
                self._tally.note(done, kept, next_attempt)
        self.cycles += 1
        for item in claimed:
            if exclude is not None:
                exclude.add(item.pk)
            self._start(item, token, records.get(item.webhook_id))
        return len(claimed)

    def _webhook(self, conn: Connection, item: ClaimedDelivery) -> WebhookRecord | None:
        """The claimed delivery's webhook as it is now: the one read last time if its
        version has not changed since (every edit changes it), else read again."""
        known = self._webhooks.get(item.webhook_pk)
        if known is not None and known.version == item.webhook_version:
            return known
        record = get_webhook(conn, item.merchant_id, id=item.webhook_id)
        if len(self._webhooks) >= WEBHOOKS_KEPT:
            self._webhooks.clear()
        if record is not None:
            self._webhooks[item.webhook_pk] = record
        return record

    def _start(self, item: ClaimedDelivery, token: str, record: WebhookRecord | None) -> None:
        if record is None:
            return  # deleted since the claim: its deliveries went with it
        with self._lock:
            self._running += 1
            self._busy[item.webhook_pk] += 1
            self._held[item.pk] = token
        self.attempted += 1
        self._pool.submit(self._run_attempt, item, token, record)

    def _run_attempt(self, item: ClaimedDelivery, token: str, record: WebhookRecord) -> None:
        done: Finished | None = None
        try:
            outcome, final = self._attempt(item, record)
            done = Finished(item.id, item.pk, token, item.attempts, outcome, test=item.test,
                            final=final, finished=self._moment(), webhook_id=item.webhook_id,
                            webhook_pk=item.webhook_pk)
        except Exception as exc:  # one delivery's fault must not stop the others
            # The claim's lease runs out and the delivery is tried again; no details
            # here, an exception's text could quote anything.
            log.error("delivery %s: internal error (%s); it will be retried",
                      item.id, type(exc).__name__)
        finally:
            with self._lock:
                self._running -= 1
                self._busy[item.webhook_pk] -= 1
                if self._busy[item.webhook_pk] <= 0:
                    del self._busy[item.webhook_pk]
                if done is not None:
                    self._finished.append(done)
                elif self._held.get(item.pk) == token:
                    del self._held[item.pk]
            self._wake.set()

    # --- the state -------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing running and nothing waiting to be recorded."""
        with self._lock:
            return self._running == 0 and not self._finished

    def _pending(self) -> bool:
        with self._lock:
            return bool(self._finished)

    def _wait(self, longest: float) -> None:
        """Until an attempt ends, new work is signalled, or the next heartbeat is due."""
        if self._pending():
            return
        with self._lock:
            holding = bool(self._held)
        if holding:
            beat_in = self.settings.heartbeat_s - (time.monotonic() - self._last_beat)
            longest = max(0.0, min(longest, beat_in))
        self._wake.wait(longest)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # --- the two ways to run ---------------------------------------------------------

    def drain(self, limit: int) -> int:
        """Attempt what is due now, each delivery at most once, up to ``limit``; return
        when all of it is recorded. Returns how many attempts were made."""
        tried: set[int] = set()
        try:
            while True:
                self._wake.clear()
                claimed = self.cycle(claim=limit - self.attempted, exclude=tried)
                if self.idle and (claimed == 0 or self.attempted >= limit):
                    return self.attempted
                self._wait(self.settings.heartbeat_s)
        finally:
            self._finish_in_flight()
            self.close()

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Deliver until ``stop`` is set; then finish the attempts in flight, record
        them and return (nothing new starts)."""
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    self.cycle(claim=self.settings.concurrency)
                except BackofficeError as exc:  # a busy database: the next cycle retries
                    log.warning("delivery cycle skipped: %s", exc.detail)
                    stop.wait(min(interval_s, 1.0))
                except Exception as exc:  # a bug must not kill the worker; never quote it
                    log.error("delivery cycle failed (internal error: %s)",
                              type(exc).__name__)
                    stop.wait(min(interval_s, 1.0))
                self._wait(interval_s)
        finally:
            self._finish_in_flight()
            self.close()

    def _finish_in_flight(self) -> None:
        """Record the attempts still running as they end; start nothing new."""
        failures = 0
        while not self.idle and failures < 100:
            self._wake.clear()
            try:
                self.cycle(claim=0)
            except Exception as exc:
                failures += 1
                log.warning("recording delivery outcomes failed (%s); trying again",
                            type(exc).__name__)
                time.sleep(0.1)
            self._wait(self.settings.heartbeat_s)

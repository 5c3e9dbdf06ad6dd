"""The delivery worker inside `webhooks serve`: a dispatcher thread and a summary thread.

The dispatcher (``scheduler.Dispatcher``; safe with several workers on one database)
claims due deliveries as slots free up, sends each on a pool thread and records the
outcomes in group commits; it wakes when an attempt ends, when an emit signals new work
(``Deliveries.work_available``) and every ``interval_s`` (retries coming due, other
processes' emits). The summary thread sends the support summaries when their interval
has passed, so a slow mail relay never holds up deliveries, and forgets the previous
secrets of rotations whose grace has ended (every ``FORGET_EVERY_S``). ``stop`` starts nothing
new, lets the attempts in flight finish (each bounded by the delivery timeout) and
commits their outcomes.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from backoffice.delivery.engine import Deliveries
from backoffice.delivery.scheduler import Dispatcher
from backoffice.errors import BackofficeError

log = logging.getLogger("backoffice.delivery")
BATCH: Final = 100  # deliveries attempted by one run_once
FORGET_EVERY_S: Final = 60.0  # how often ended graces' previous secrets are dropped


class DeliveryWorker:
    """Delivers in background threads until ``stop``."""

    def __init__(self, deliveries: Deliveries, *, interval_s: float = 1.0) -> None:
        if interval_s <= 0:
            raise ValueError("the worker interval must be positive")
        self.deliveries = deliveries
        self.interval_s = interval_s
        self.rounds = 0  # summary rounds
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.dispatcher: Dispatcher | None = None

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def not_running(self) -> list[str]:
        """Why the worker is not delivering, for readiness: [] while both threads live."""
        if not self._threads:
            return ["the delivery worker is not started"]
        return [f"the delivery worker's {thread.name} thread is not running"
                for thread in self._threads if not thread.is_alive()]

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        d = self.deliveries
        self.dispatcher = Dispatcher(d.db, d.settings, d.clock, d._attempt,
                                     wake=d.work_available, tally=d.tally)
        self._threads = [
            threading.Thread(target=self.dispatcher.run, args=(self._stopping, self.interval_s),
                             name="delivery-dispatcher", daemon=True),
            threading.Thread(target=self._summaries, name="delivery-summaries", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop: nothing new starts, the attempts in flight finish and are recorded;
        False when that did not end within ``timeout``."""
        self._stopping.set()
        self.deliveries.work_available.set()  # cut the dispatcher's wait short
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        stopped = not self.running
        if stopped:
            self._threads = []
        return stopped

    def run_once(self) -> int:
        """Due deliveries (synchronously), then the summaries if due; returns attempts."""
        attempted = self.deliveries.deliver_due(limit=BATCH)
        self.deliveries.send_support_summaries()
        self.deliveries.forget_expired_secrets()
        self.rounds += 1
        return attempted

    def _summaries(self) -> None:
        forgot = float("-inf")
        while not self._stopping.is_set():
            try:
                self.deliveries.send_support_summaries()
                if time.monotonic() - forgot >= FORGET_EVERY_S:
                    forgot = time.monotonic()
                    self.deliveries.forget_expired_secrets()
            except BackofficeError as exc:  # a busy database: the next round retries
                log.warning("support summaries skipped: %s", exc.detail)
            except Exception as exc:  # a bug must not kill the worker; never quote it
                log.error("support summaries failed (internal error: %s)",
                          type(exc).__name__)
            self.rounds += 1
            self._stopping.wait(self.interval_s)

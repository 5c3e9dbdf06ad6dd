"""The delivery worker inside `webhooks serve`: a thread that attempts due deliveries.

Each round claims a batch (``Deliveries.deliver_due``; safe with several workers on
one database), then sends the support summaries when their interval has passed. It
waits ``interval_s`` between rounds, less when an emit signals new work, and none
after a full batch. ``stop`` lets the round in flight finish (each attempt is
bounded by the delivery timeout); a delivery cut short is retried once its lease ends.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from backoffice.delivery.engine import Deliveries
from backoffice.errors import BackofficeError

log = logging.getLogger("backoffice.delivery")
BATCH: Final = 100  # deliveries claimed per round


class DeliveryWorker:
    """Runs delivery rounds in a background thread until ``stop``."""

    def __init__(self, deliveries: Deliveries, *, interval_s: float = 1.0) -> None:
        if interval_s <= 0:
            raise ValueError("the worker interval must be positive")
        self.deliveries = deliveries
        self.interval_s = interval_s
        self.rounds = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="delivery-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop after the round in flight; False when it did not end within ``timeout``."""
        self._stopping.set()
        self.deliveries.work_available.set()  # cut the wait short
        if self._thread is None:
            return True
        self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        if stopped:
            self._thread = None
        return stopped

    def run_once(self) -> int:
        """One round: due deliveries, then the summaries if due; returns attempts made."""
        attempted = self.deliveries.deliver_due(limit=BATCH)
        self.deliveries.send_support_summaries()
        self.rounds += 1
        return attempted

    def _run(self) -> None:
        signal = self.deliveries.work_available
        while not self._stopping.is_set():
            signal.clear()
            attempted = 0
            try:
                attempted = self.run_once()
            except BackofficeError as exc:  # a busy database: the next round retries
                log.warning("delivery round skipped: %s", exc.detail)
            except Exception as exc:  # a bug must not kill the worker; never quote it
                log.error("delivery round failed (internal error: %s)", type(exc).__name__)
            if attempted < BATCH:
                signal.wait(self.interval_s)

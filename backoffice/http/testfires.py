"""Test-fires off the request path: each runs in a worker thread of its own pool, and a
merchant has at most ``per_merchant`` in flight in this process (429 beyond).

A test-fire waits for the receiver (up to the delivery timeout), so it must neither
block the event loop nor take the threads that every other (synchronous) endpoint
runs in: it gets its own capacity limiter. The request still waits for its result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final, TypeVar

import anyio
import anyio.to_thread

from backoffice.errors import TooManyRequests

T = TypeVar("T")

DEFAULT_PER_MERCHANT: Final = 4
DEFAULT_THREADS: Final = 16
RETRY_AFTER_S: Final = 2


class FireGate:
    """Counts each merchant's test-fires in flight and runs them in their own threads.

    Used from the event loop only (one thread), so the counts need no lock.
    """

    def __init__(self, *, per_merchant: int = DEFAULT_PER_MERCHANT,
                 threads: int = DEFAULT_THREADS, retry_after_s: int = RETRY_AFTER_S) -> None:
        if per_merchant < 1 or threads < 1:
            raise ValueError("the test-fire limits must be at least 1")
        self.per_merchant = per_merchant
        self.threads = threads
        self.retry_after_s = retry_after_s
        self.in_flight: Counter[str] = Counter()
        self._limiter: anyio.CapacityLimiter | None = None

    @asynccontextmanager
    async def slot(self, merchant_id: str) -> AsyncIterator[None]:
        """Hold one of the merchant's slots; TooManyRequests when none is free."""
        if self.in_flight[merchant_id] >= self.per_merchant:
            raise TooManyRequests(
                f"this merchant already has {self.per_merchant} test-fire(s) in flight "
                f"(the limit); retry after {self.retry_after_s} s",
                retry_after=self.retry_after_s)
        self.in_flight[merchant_id] += 1
        try:
            yield
        finally:
            self.in_flight[merchant_id] -= 1
            if not self.in_flight[merchant_id]:
                del self.in_flight[merchant_id]

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in a test-fire thread; the caller waits without blocking the loop.

        Not cancellable: a client that goes away leaves the attempt to finish (and be
        recorded), and its slot is held until it has.
        """
        if self._limiter is None:  # made inside the event loop that uses it
            self._limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)

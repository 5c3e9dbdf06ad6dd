"""What the lists keep between requests (each webhook's JSON and row, each query's last
page): bounded in entries and in bytes, since what is kept is as large as the webhooks
a merchant writes, and what a reader asks for picks which pages are kept. Past either
bound the store starts over (it empties); one value larger than a share of the byte
bound is never kept. Thread-safe: the API's requests run in a thread pool.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Kept(Generic[V]):
    def __init__(self, *, max_entries: int, max_bytes: int, share: int = 4) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.share = share  # a value over max_bytes / share is not kept
        self._values: dict[Hashable, tuple[V, int]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        found = self._values.get(key)
        return None if found is None else found[0]

    def put(self, key: Hashable, value: V, size: int) -> bool:
        """Keep ``value`` (``size`` bytes) under ``key``; False when it is too large."""
        if size > self.max_bytes // self.share:
            return False
        with self._lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if len(self._values) >= self.max_entries or self._bytes + size > self.max_bytes:
                self._values.clear()
                self._bytes = 0
            self._values[key] = (value, size)
            self._bytes += size
        return True

    @property
    def size(self) -> int:
        """The bytes kept now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._values)

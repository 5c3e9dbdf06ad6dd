"""Bounds on signing in: failed attempts per client address and in all, and the one-time
codes of `webhooks ui`'s login link.

Tokens are 256-bit random values, so guessing one is hopeless anyway; the bound keeps a
guesser from costing the server a token lookup per request without end. Both are per
process (each replica bounds its own), and held in memory.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from backoffice.errors import TooManyRequests

FAILURES_PER_ADDRESS: Final = 10  # failed sign-ins one address may make per window
FAILURES_IN_ALL: Final = 100  # ... and all addresses together
WINDOW_S: Final = 300.0
CODE_SECONDS: Final = 300.0  # a login link works this long, and once
MAX_ADDRESSES: Final = 10_000


class LoginLimiter:
    """Counts failed sign-ins in a sliding window; ``check`` refuses (429) past a bound."""

    def __init__(self, *, per_address: int = FAILURES_PER_ADDRESS,
                 in_all: int = FAILURES_IN_ALL, window_s: float = WINDOW_S,
                 ticks: Callable[[], float] = time.monotonic) -> None:
        self.per_address = per_address
        self.in_all = in_all
        self.window_s = window_s
        self.ticks = ticks
        self._by_address: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        start = now - self.window_s
        while self._all and self._all[0] <= start:
            self._all.popleft()
        for address in [a for a, times in self._by_address.items()
                        if not times or times[-1] <= start]:
            del self._by_address[address]

    def check(self, address: str) -> None:
        """TooManyRequests when this address, or everyone, failed too often lately."""
        now = self.ticks()
        with self._lock:
            self._prune(now)
            mine = self._by_address.get(address, deque())
            while mine and mine[0] <= now - self.window_s:
                mine.popleft()
            if len(mine) >= self.per_address or len(self._all) >= self.in_all:
                oldest = mine[0] if len(mine) >= self.per_address else self._all[0]
                wait = max(1, int(oldest + self.window_s - now) + 1)
                raise TooManyRequests(f"too many failed sign-ins; try again in {wait} s",
                                      retry_after=wait)

    def failed(self, address: str) -> None:
        now = self.ticks()
        with self._lock:
            if len(self._by_address) >= MAX_ADDRESSES:
                self._prune(now)
                if len(self._by_address) >= MAX_ADDRESSES:
                    self._by_address.clear()
            self._by_address.setdefault(address, deque()).append(now)
            self._all.append(now)


class LoginCodes:
    """One-time codes standing for a token: `webhooks ui` prints a link with one; opening
    it signs in. A code works once, for ``CODE_SECONDS``; the token stays in memory."""

    def __init__(self, *, seconds: float = CODE_SECONDS,
                 ticks: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.ticks = ticks
        self._codes: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, token: str) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = self.ticks()
            for old in [c for c, (_, end) in self._codes.items() if end <= now]:
                del self._codes[old]
            self._codes[code] = (token, now + self.seconds)
        return code

    def redeem(self, code: str) -> str | None:
        """The token the code stands for, once; None when unknown, used or expired."""
        with self._lock:
            found = self._codes.pop(code, None)
        if found is None or self.ticks() >= found[1]:
            return None
        return found[0]

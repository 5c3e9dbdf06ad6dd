"""Run a uvicorn server that SIGTERM or SIGINT stops whenever it arrives.

uvicorn installs its own signal handlers only once its event loop runs; a signal that
lands between "the caller is ready" and that moment would otherwise be lost (the server
then runs until killed). Installing a handler here first, which asks the server to exit,
closes that gap. uvicorn re-raises the signal once it has shut down; the handler notes it,
so a requested stop ends as a clean return rather than a KeyboardInterrupt.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stoppable(Protocol):
    """What is used of ``uvicorn.Server`` (this package does not import uvicorn)."""

    should_exit: bool

    def run(self, sockets: list[socket.socket] | None = None) -> None: ...


@contextmanager
def stop_signals_noted(server: Stoppable) -> Iterator[list[int]]:
    """While inside, a stop signal asks ``server`` to exit and is appended to the list
    yielded; the previous handlers come back on leaving."""
    received: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        server.should_exit = True

    previous = {sig: signal.signal(sig, note) for sig in STOP_SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""Stop a uvicorn server on SIGTERM or SIGINT whenever the signal arrives.

uvicorn installs its own signal handlers only once its event loop runs. A signal that
lands before that, after the program has shown it is up (a log line, a printed link),
would otherwise kill it mid-setup (a token made, not removed) or, once a handler that
only notes it is in place, be lost (the server then runs until killed). A command enters
``stop_signals_noted`` before it sets anything up and attaches its server once made: a
signal noted in between asks the server to exit as soon as it starts. uvicorn re-raises
the signal once it has shut down; the handler notes it, so a requested stop ends as a
clean return rather than a KeyboardInterrupt.
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


class StopSignals:
    """The stop signals received while inside ``stop_signals_noted``. A server attached,
    before or after the signal came, is asked to exit."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._server: Stoppable | None = None

    def attach(self, server: Stoppable) -> None:
        self._server = server
        if self.received:
            server.should_exit = True  # it starts, and stops at once

    def note(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)
        if self._server is not None:
            self._server.should_exit = True


@contextmanager
def stop_signals_noted(server: Stoppable | None = None) -> Iterator[StopSignals]:
    """While inside, a stop signal is noted (not fatal) and asks the attached server (this
    one, or one given to ``attach`` later) to exit; the previous handlers come back on
    leaving. Enter it before the program shows any sign of being ready, so a stop sent
    on that sign is never lost, and work set up meanwhile (a token, a socket) is undone
    by the caller's own clean-up."""
    stops = StopSignals()
    if server is not None:
        stops.attach(server)
    previous = {sig: signal.signal(sig, stops.note) for sig in STOP_SIGNALS}
    try:
        yield stops
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""A stop signal that lands before uvicorn has installed its own handlers still stops the
server (it used to be noted and lost: the server then ran until killed), and one that
lands before the server exists stops it as soon as it is attached."""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest
import uvicorn

from contract.stopping import stop_signals_noted


async def app(scope: dict[str, object], receive: object, send: object) -> None:
    raise AssertionError("no request is made")


def bound() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_before_the_server_runs_stops_it(sig: signal.Signals) -> None:
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    sock = bound()
    # Should the signal be lost, the server would serve forever: a watchdog ends it.
    watchdog = threading.Timer(20, lambda: setattr(server, "should_exit", True))
    watchdog.start()
    try:
        started = time.monotonic()
        with stop_signals_noted(server) as stops:
            signal.raise_signal(sig)  # between "ready" and uvicorn's own handlers
            assert stops.received == [sig] and server.should_exit
            server.run(sockets=[sock])
        assert time.monotonic() - started < 15, "the signal was lost"
    finally:
        watchdog.cancel()
        sock.close()


def test_a_server_attached_after_the_signal_stops_as_soon_as_it_starts() -> None:
    """A command enters the context before it sets anything up (a token, the database)
    and attaches its server once made: a stop in between still stops it."""
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    sock = bound()
    watchdog = threading.Timer(20, lambda: setattr(server, "should_exit", True))
    watchdog.start()
    try:
        with stop_signals_noted() as stops:
            signal.raise_signal(signal.SIGTERM)  # nothing to stop yet: noted only
            assert stops.received == [signal.SIGTERM] and not server.should_exit
            stops.attach(server)
            assert server.should_exit
            started = time.monotonic()
            server.run(sockets=[sock])
            assert time.monotonic() - started < 15, "the signal was lost"
    finally:
        watchdog.cancel()
        sock.close()


def test_the_previous_handlers_come_back() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off"))
    with stop_signals_noted(server):
        assert all(signal.getsignal(sig) != handler for sig, handler in before.items())
    assert {sig: signal.getsignal(sig) for sig in before} == before

"""Run the API under uvicorn, with the delivery worker beside it: one log line per
request, graceful stop on SIGTERM/SIGINT (requests first, then the worker)."""

from __future__ import annotations

import logging
import signal
import socket
from pathlib import Path
from typing import Any

import uvicorn

from backoffice.db.engine import sqlite_file
from backoffice.delivery.worker import DeliveryWorker
from backoffice.facade import Backoffice
from backoffice.http import tls as tls_files
from backoffice.http.api import create_app
from backoffice.http.testfires import DEFAULT_PER_MERCHANT
from contract import private_files
from contract.stopping import StopSignals, stop_signals_noted
from contract.urls import is_loopback_host

log = logging.getLogger("backoffice.server")


def log_config(level: str = "info") -> dict[str, Any]:
    """Logging for uvicorn and the backoffice on stderr; uvicorn's own access log is off
    because it prints query strings, and ours never does."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "backoffice": {"handlers": ["stderr"], "level": upper, "propagate": False},
        },
    }


def _warn_loose_files(backoffice: Backoffice, tls: tuple[Path, Path] | None) -> None:
    """Files made before they were made private (or loosened since) keep their mode: an
    operator may have chosen it. Each one others may read gets a warning."""
    outbox = backoffice.deliveries.mailer.outbox
    paths = [*backoffice.db.files(), *([outbox] if outbox is not None else []),
             *(tls[1:] if tls else [])]
    for path, mode in private_files.loose(paths):
        log.warning("%s can be read by other users (mode %o): it holds secrets or leads to "
                    "them; run: %s", path, mode, private_files.chmod_hint(path))


def warn_if_plain_http(host: str, tls: tuple[Path, Path] | None) -> None:
    """Log that tokens and secrets would cross the network in clear: plain http on an
    address that is not loopback."""
    if tls is None and not is_loopback_host(host):
        log.warning("serving plain http on %s, which is not loopback: API tokens and webhook "
                    "secrets cross the network in clear; serve https (--tls-cert, --tls-key) "
                    "or put a TLS-terminating proxy in front on this machine", host or "*")


def serve(backoffice: Backoffice, *, host: str = "127.0.0.1", port: int = 8080,
          log_level: str = "info", graceful_timeout: int = 10,
          worker_interval: float | None = 1.0,
          test_fires_per_merchant: int = DEFAULT_PER_MERCHANT,
          tls: tuple[Path, Path] | None = None,
          sock: socket.socket | None = None, stops: StopSignals | None = None) -> int:
    """Serve until SIGTERM or SIGINT; in-flight requests finish first. Returns an exit code.

    ``sock``: a socket already listening (the caller bound it and reported a taken port);
    ``host`` and ``port`` then only name it in the log.

    ``worker_interval``: seconds between delivery rounds; None runs no worker.
    ``test_fires_per_merchant``: test-fires a merchant may have in flight (429 beyond).
    ``tls``: (certificate, key) files to serve https (checked: ``tls.files_problem``).
    ``stops``: the caller's ``stop_signals_noted``, entered before it set anything up (a
    stop signal since then stops this server as soon as it starts); else one of its own.
    """
    worker = None if worker_interval is None else DeliveryWorker(
        backoffice.deliveries, interval_s=worker_interval)
    app = create_app(backoffice, test_fires_per_merchant=test_fires_per_merchant, worker=worker)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=log_config(log_level),
        access_log=False, server_header=False, lifespan="off",
        timeout_graceful_shutdown=graceful_timeout,
        **(tls_files.uvicorn_options(*tls) if tls else {}),
    )
    server = uvicorn.Server(config)
    if stops is not None:
        stops.attach(server)
        return _run(backoffice, server, worker, host=host, port=port, tls=tls, sock=sock,
                    received=stops.received, test_fires_per_merchant=test_fires_per_merchant)
    with stop_signals_noted(server) as own:
        return _run(backoffice, server, worker, host=host, port=port, tls=tls, sock=sock,
                    received=own.received, test_fires_per_merchant=test_fires_per_merchant)


def _run(backoffice: Backoffice, server: uvicorn.Server, worker: DeliveryWorker | None, *,
         host: str, port: int, tls: tuple[Path, Path] | None, sock: socket.socket | None,
         received: list[int], test_fires_per_merchant: int) -> int:
    """Log what is served, then serve; a stop signal from here on ends the run."""
    settings = backoffice.deliveries.settings
    if sock is None:  # a caller that bound the socket warned before binding
        warn_if_plain_http(host, tls)
    _warn_loose_files(backoffice, tls)
    log.info("listening on %s://%s:%d", "https" if tls else "http", host, port)
    tokens = backoffice.tokens.token_count()
    log.info("database %s (%s), %d API token(s)", backoffice.db.url, backoffice.db.location,
             tokens)
    if tokens == 0:
        path = sqlite_file(backoffice.db.engine.url)
        where = f"sqlite:///{path.resolve()}" if path is not None else backoffice.db.url
        log.warning("no API tokens yet: create one with `webhooks token create --scope manage "
                    "--db %s`", where)
    log.info("per merchant: %s emits and %s test-fires a minute, %d test-fire(s) in flight",
             settings.emits_per_minute or "unlimited",
             settings.test_fires_per_minute or "unlimited", test_fires_per_merchant)
    if worker is not None:
        log.info("delivery worker: a round every %g s; %s; e-mail %s", worker.interval_s,
                 "private and loopback targets ALLOWED" if settings.allow_private_targets
                 else "private and loopback targets refused",
                 backoffice.deliveries.mailer.where)
    try:
        if worker is not None:
            worker.start()
        server.run(sockets=None if sock is None else [sock])
    except SystemExit:  # uvicorn could not start (port taken, ...) and logged why
        return 1
    finally:
        if worker is not None and not worker.stop(timeout=settings.timeout_s + 5):
            log.warning("the delivery worker did not stop in time; unfinished deliveries "
                        "are retried when their lease ends")
    log.info("stopped%s", f" on {signal.Signals(received[0]).name}" if received else "")
    return 0

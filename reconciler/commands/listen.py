"""``webhooks listen``: a local receiver that decrypts or verifies, prints and acknowledges."""

from __future__ import annotations

import os
import socket

import click
import uvicorn

from contract import formats
from contract.stopping import stop_signals_noted
from contract.urls import is_loopback_host
from reconciler.commands import Globals
from reconciler.errors import EXIT_ERROR, EXIT_OK, ReconcilerError
from reconciler.receiver import create_receiver

DEFAULT_SECRET_ENV = "WEBHOOKS_LISTEN_SECRET"
# During a rotation: the secret the current one replaced, still valid for the grace.
DEFAULT_PREVIOUS_ENV = "WEBHOOKS_LISTEN_PREVIOUS_SECRET"


def resolve_secret(secret: str | None, secret_env: str | None) -> str:
    """The secret from --secret, else from the variable --secret-env names (or the default)."""
    if secret:
        return secret
    name = secret_env or DEFAULT_SECRET_ENV
    value = os.environ.get(name)
    if not value:
        raise ReconcilerError(
            f"no secret: set {name} to the webhook's secret (the one in the config's "
            "secret: source), or name another variable with --secret-env"
        )
    return value.strip()


def resolve_previous(previous_env: str | None) -> str | None:
    """The previous secret from the variable ``--previous-secret-env`` names (default
    WEBHOOKS_LISTEN_PREVIOUS_SECRET); None when unset or empty, unless it was named."""
    name = previous_env or DEFAULT_PREVIOUS_ENV
    value = (os.environ.get(name) or "").strip()
    if not value and previous_env is not None:
        raise ReconcilerError(f"--previous-secret-env names {name}, which is not set")
    return value or None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one); a clear error when taken."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ReconcilerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ReconcilerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def run(g: Globals, *, host: str, port: int, secret: str | None, secret_env: str | None,
        fmt: str | None, path: str, previous_env: str | None = None) -> int:
    value = resolve_secret(secret, secret_env)
    prior = resolve_previous(previous_env)
    chosen = formats.guess(value).name if fmt is None else fmt
    if not path.startswith("/"):
        path = "/" + path

    def err(line: str) -> None:
        click.echo(click.style(line, fg="red") if g.color else line, err=True)

    app = create_receiver(value, fmt=chosen, path=path, out=click.echo, err=err,
                          previous=prior)
    sock = bind(host, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False, ws="none", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    try:
        with stop_signals_noted(server):
            _announce(sock, host=host, path=path, fmt=chosen, secret=secret,
                      secret_env=secret_env,
                      previous_env=(previous_env or DEFAULT_PREVIOUS_ENV) if prior else None)
            server.run(sockets=[sock])
    except SystemExit:
        return EXIT_ERROR
    finally:
        sock.close()
    click.echo("Stopped.", err=True)
    return EXIT_OK


def _announce(sock: socket.socket, *, host: str, path: str, fmt: str, secret: str | None,
              secret_env: str | None, previous_env: str | None) -> None:
    """Where deliveries are awaited, and where the secrets come from (never the values)."""
    bound_host, bound_port = sock.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    if secret:
        click.echo("note: a secret given with --secret is visible in the process list and "
                   f"shell history; prefer {DEFAULT_SECRET_ENV} (or --secret-env)", err=True)
    if not is_loopback_host(host):
        click.echo(f"warning: listening on {host}, beyond this machine: anyone who can reach "
                   "it can post to it", err=True)
    source = "--secret" if secret else secret_env or DEFAULT_SECRET_ENV
    also = "" if previous_env is None else f"; previous secret from {previous_env}"
    click.echo(f"Listening for {fmt} deliveries on http://{shown_host}:{bound_port}{path} "
               f"(secret from {source}{also}). Ctrl-C to stop.", err=True)

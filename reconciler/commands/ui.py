"""`webhooks ui`: the backoffice's web pages on the embedded backoffice, on this machine.

It listens on loopback only (127.0.0.1, a free port unless ``--port`` names one) and
answers only to loopback host names, so neither another machine nor a page from another
site reaching this one through DNS can use it. It makes an API token for itself (the
demo merchant's, ``--scope`` manage by default), never shows it, and prints a one-time
login link in its place: the link's code works once, for a few minutes, and stands for
that token. When it stops, the token and the sessions signed in with it are removed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
import uvicorn
from starlette.middleware.trustedhost import TrustedHostMiddleware

from backoffice.auth import token_hash
from backoffice.catalog import DEMO_MERCHANT_ID
from backoffice.db import session_queries
from backoffice.facade import Backoffice
from backoffice.http.api import create_app
from backoffice.http.server import log_config
from backoffice.web.guard import CODE_SECONDS, LoginCodes
from contract.stopping import StopSignals, stop_signals_noted
from reconciler.commands import Globals
from reconciler.commands.listen import bind
from reconciler.providers import embedded_data_dir
from reconciler.providers.embedded import EmbeddedProvider
from reconciler.providers.errors import backoffice_errors

HOST = "127.0.0.1"
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]", "::1"]
log = logging.getLogger("backoffice.server")


def run(g: Globals, config_file: Path, *, port: int, scope: str) -> int:
    provider = EmbeddedProvider.open(embedded_data_dir(config_file))
    office = provider.office
    # Entered before the token is made: a stop from then on ends the run through the
    # ``finally`` of ``_serve``, which removes the token (a signal's default would not).
    with stop_signals_noted() as stops:
        return _serve(g, office, port=port, scope=scope, stops=stops)


def _serve(g: Globals, office: Backoffice, *, port: int, scope: str,
           stops: StopSignals) -> int:
    sock = None
    token = None
    try:
        sock = bind(HOST, port)
        where = office.db.url
        with backoffice_errors("create a token", where):
            token = office.tokens.create_token(DEMO_MERCHANT_ID, scope)
        app = create_app(office)
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_NAMES)
        codes: LoginCodes = app.state.web_codes
        bound = sock.getsockname()[1]
        link = f"http://{HOST}:{bound}/login/link?code={codes.issue(token)}"
        click.echo(f"The backoffice's pages for the embedded backoffice ({where}),\n"
                   f"on this machine only, signed in as merchant {DEMO_MERCHANT_ID!r} "
                   f"({scope}). Open this link to sign in (it works once, for "
                   f"{int(CODE_SECONDS // 60)} minutes):\n\n    {link}\n\n"
                   "Press Ctrl-C to stop.")
        sys.stdout.flush()
        config = uvicorn.Config(app, log_config=log_config("debug" if g.debug else "warning"),
                                access_log=False, server_header=False, lifespan="off",
                                timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        stops.attach(server)  # stopped at once if a stop came already
        server.run(sockets=[sock])
        click.echo("Stopped.", err=True)
        return 0
    finally:
        if sock is not None:
            sock.close()
        if token is not None:
            _forget(office.db, token)
        office.close()


def _forget(db: object, token: str) -> None:
    """Remove the token this run made, and every session signed in with it."""
    from backoffice.db.engine import Database

    assert isinstance(db, Database)
    with db.write() as conn:
        session_queries.delete_sessions_of_token(conn, token_hash(token))
        session_queries.delete_token(conn, token_hash(token))

"""`webhooks serve`: run the backoffice API on a database until SIGTERM."""

from __future__ import annotations

from backoffice import Backoffice, BackofficeError
from backoffice.server import serve
from reconciler.commands import Globals
from reconciler.errors import ReconcilerError


def open_backoffice(db_url: str) -> Backoffice:
    """Open (creating on first use) the backoffice database, errors made user-facing."""
    try:
        return Backoffice.open(db_url)
    except BackofficeError as exc:
        raise ReconcilerError(f"cannot open the backoffice database: {exc.detail}") from None


def run(g: Globals, *, host: str, port: int, db_url: str) -> int:
    with open_backoffice(db_url) as backoffice:
        return serve(backoffice, host=host, port=port, log_level="debug" if g.debug else "info")

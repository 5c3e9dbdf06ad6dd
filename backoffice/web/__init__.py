"""The backoffice's web pages: the guide's "Webhooks" menu, server-rendered at ``/``
beside the API (under ``/v1``), calling the same parts with the same permissions.

``install`` adds them to the API's app: the routes (sign-in, the list, details, the
six-step wizard, edit, delete, test, deliveries), the static files (one stylesheet, one
small script: no build step, nothing from another site), the sign-in sessions, and the
security headers every answer gets.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backoffice.facade import Backoffice
from backoffice.web import edits, pages, signin, wizard
from backoffice.web.guard import LoginCodes, LoginLimiter
from backoffice.web.headers import SecurityHeadersMiddleware
from backoffice.web.rows import RowCache
from backoffice.web.sessions import WebSessions


def install(app: FastAPI, backoffice: Backoffice) -> None:
    """The pages, their state (sessions, sign-in bounds, login codes) and the headers."""
    app.state.web_sessions = WebSessions(backoffice.db, backoffice.tokens,
                                         clock=backoffice.tokens.clock)
    app.state.web_limiter = LoginLimiter()
    app.state.web_codes = LoginCodes()
    app.state.web_rows = RowCache()
    # /webhooks/new before /webhooks/{webhook_id}
    for module in (signin, wizard, pages, edits):
        app.include_router(module.router)
    static = resources.files("backoffice.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.add_middleware(SecurityHeadersMiddleware)

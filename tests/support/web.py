"""Helpers for the web pages' tests: sessions made directly or by signing in, forms posted
with their anti-forgery token, and what a page says."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import httpx

from backoffice.facade import Backoffice
from backoffice.web.render import SESSION_COOKIE
from backoffice.web.sessions import WebSessions

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
STATE_RE = re.compile(r'name="state" value="([^"]*)"')


@dataclass(frozen=True)
class Signed:
    """A session: its cookie value and its forms' token."""

    cookie: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        """The session's cookie, as a browser sends it."""
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}"}


def session_for(office: Backoffice, token: str) -> Signed:
    """A session started straight in the database (as signing in would)."""
    sid, session = WebSessions(office.db, office.tokens, clock=office.tokens.clock).start(token)
    return Signed(sid, session.csrf)


def csrf_of(page: str) -> str:
    found = CSRF_RE.search(page)
    assert found, "the page has no form token"
    return html.unescape(found.group(1))


def state_of(page: str) -> str:
    found = STATE_RE.search(page)
    assert found, "the page has no wizard state"
    return html.unescape(found.group(1))


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Sign in through the form, as a browser does; the client keeps the cookies."""
    form = await client.get("/login")
    return await client.post("/login", data={"csrf": csrf_of(form.text), "token": token,
                                             "next": "/webhooks"})


def text_of(page: str) -> str:
    """The page's text, tags dropped and entities decoded (what a person reads)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


async def get(client: httpx.AsyncClient, path: str, signed: Signed | None,
              **params: str) -> httpx.Response:
    return await client.get(path, params=params or None,
                            headers=signed.headers if signed else None)


async def post(client: httpx.AsyncClient, path: str, signed: Signed | None,
               fields: dict[str, Any], *, csrf: str | None = None) -> httpx.Response:
    """Post a form as the session (its token unless ``csrf`` says another); a list
    value is a repeated field."""
    token = csrf if csrf is not None else (signed.csrf if signed else "")
    return await client.post(path, data={"csrf": token, **fields},
                             headers=signed.headers if signed else None)

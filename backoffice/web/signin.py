"""Signing in and out, the one-time login link of `webhooks ui`, the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from backoffice.auth import READ
from backoffice.errors import Unauthorized
from backoffice.web import i18n
from backoffice.web.access import Form, error_page, first, local_path, serve
from backoffice.web.guard import LoginCodes, LoginLimiter
from backoffice.web.render import (
    NO_STORE,
    SESSION_COOKIE,
    Visit,
    page,
    redirect,
)

router = APIRouter(include_in_schema=False)
LANG_COOKIE_AGE = 365 * 86400


def _address(visit: Visit) -> str:
    client = visit.request.client
    return client.host if client is not None else "unknown"


def _signed_in(visit: Visit, token: str, to: str, *, via_link: bool) -> Response:
    """Start a session for ``token`` (Unauthorized when it does not work) and answer."""
    session_id, session = visit.sessions.start(token)
    visit.sessions.end(visit.request.cookies.get(SESSION_COOKIE))  # a new id each sign-in
    visit.session = session
    visit.cookies[SESSION_COOKIE] = (session_id, int(visit.sessions.lifetime.total_seconds()))
    if via_link:
        # A page of this site moves on, so the next request is same-site (the link came
        # from a terminal) and carries the SameSite=Strict cookie.
        return page(visit, "signed_in.html", cache=NO_STORE, to=to)
    return redirect(visit, to)


@router.get("/")
async def home(request: Request) -> Response:
    def go(visit: Visit, _: Form) -> Response:
        return redirect(visit, "/webhooks" if visit.session is not None else "/login")
    return await serve(request, go, need=None)


@router.get("/login")
async def login_page(request: Request) -> Response:
    def show(visit: Visit, _: Form) -> Response:
        to = local_path(visit.request.query_params.get("next"))
        return page(visit, "login.html", to=to, failed=False)
    return await serve(request, show, need=None)


@router.post("/login")
async def login(request: Request) -> Response:
    limiter: LoginLimiter = request.app.state.web_limiter

    def sign_in(visit: Visit, form: Form) -> Response:
        to = local_path(first(form, "next"))
        address = _address(visit)
        limiter.check(address)
        try:
            return _signed_in(visit, first(form, "token").strip(), to, via_link=False)
        except Unauthorized:
            limiter.failed(address)
            return page(visit, "login.html", status=401, to=to, failed=True)
    return await serve(request, sign_in, need=None, post=True)


@router.get("/login/link")
async def login_link(request: Request) -> Response:
    """The one-time link `webhooks ui` prints: its code stands for a token, once."""
    limiter: LoginLimiter = request.app.state.web_limiter
    codes: LoginCodes = request.app.state.web_codes

    def redeem(visit: Visit, _: Form) -> Response:
        address = _address(visit)
        limiter.check(address)
        token = codes.redeem(visit.request.query_params.get("code", "")[:100])
        if token is None:
            limiter.failed(address)
            return error_page(visit, 401, key="error.link_used")
        try:
            return _signed_in(visit, token, "/webhooks", via_link=True)
        except Unauthorized:
            return error_page(visit, 401, key="error.link_used")
    return await serve(request, redeem, need=None)


@router.post("/logout")
async def logout(request: Request) -> Response:
    def sign_out(visit: Visit, _: Form) -> Response:
        visit.sessions.end(visit.request.cookies.get(SESSION_COOKIE))
        visit.session = None
        visit.cookies[SESSION_COOKIE] = ("", 0)
        response = page(visit, "login.html", to="/webhooks", failed=False, signed_out=True)
        return response
    return await serve(request, sign_out, need=READ, post=True)


@router.post("/language")
async def language(request: Request) -> Response:
    def switch(visit: Visit, form: Form) -> Response:
        chosen = first(form, "lang")
        if chosen in i18n.LANGUAGES:
            visit.lang = chosen
            visit.cookies[i18n.COOKIE] = (chosen, LANG_COOKIE_AGE)
        return redirect(visit, local_path(first(form, "next")))
    return await serve(request, switch, need=None, post=True)

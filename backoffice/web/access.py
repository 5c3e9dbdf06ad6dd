"""Who may see a page and who may post a form: every page route goes through ``serve``.

``serve`` resumes the session (its token re-checked), refuses a visitor without the
scope before reading any body (403, or to the sign-in page when not signed in), reads a
form and checks its anti-forgery token, then runs the page and turns the backoffice's
errors into error pages. Pages call the same parts, with the same Principal and scope
checks, as the API does.
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import parse_qsl, quote

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from backoffice.errors import BackofficeError, Forbidden, TooManyRequests, Unavailable
from backoffice.web.render import SESSION_COOKIE, Visit, page, redirect, visit_of

log = logging.getLogger("backoffice.web")

Form = dict[str, list[str]]
Handler = Callable[[Visit, Form], Response | Awaitable[Response]]
MAX_FIELDS: Final = 200
_TITLES: Final = {400: "error.bad_request", 401: "error.signed_out", 403: "error.forbidden",
                  404: "error.not_found", 409: "error.conflict", 412: "error.changed",
                  422: "error.invalid", 429: "error.too_many", 503: "error.unavailable"}
# Statuses whose (English) detail helps the visitor: it names the field or the wait.
_SHOW_DETAIL: Final = (400, 409, 412, 422, 429, 503)


def local_path(target: str | None, default: str = "/webhooks") -> str:
    """``target`` when it is a path on this site (no scheme, host or backslash)."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target) or len(target) > 2000):
        return default
    return target


def error_page(visit: Visit, status: int, *, key: str | None = None,
               detail: str | None = None, headers: dict[str, str] | None = None) -> Response:
    response = page(visit, "error.html", status=status,
                    title=visit.t(key or _TITLES.get(status, "error.internal")),
                    detail=detail if status in _SHOW_DETAIL else None)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def backoffice_error_page(visit: Visit, exc: BackofficeError) -> Response:
    headers = ({"Retry-After": str(exc.retry_after)}
               if isinstance(exc, TooManyRequests | Unavailable) else None)
    key = "error.needs_manage" if isinstance(exc, Forbidden) else None
    return error_page(visit, exc.status, key=key, detail=exc.detail, headers=headers)


async def read_form(request: Request) -> Form | None:
    """The urlencoded body as name -> values; None when it cannot be read as one."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != \
            "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict",
                          max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    form: Form = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def first(form: Form, name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


def _admit(visit: Visit, cookie: str | None, need: str | None, post: bool) -> Response | None:
    """Resume the session and check the scope: None to go on, else the answer (to the
    sign-in page, 401). A visitor without the scope: Forbidden, before any body is read."""
    session = visit.sessions.resume(cookie) if cookie else None
    visit.session = session
    if need is None:
        return None
    if session is None:
        if cookie:  # ended, expired or its token no longer works: drop the cookie
            visit.cookies[SESSION_COOKIE] = ("", 0)
        if post:
            return error_page(visit, 401)
        return redirect(visit, "/login?next=" + quote(_here(visit.request), safe="/"))
    session.principal.require(need)
    return None


def _admit_and_run(visit: Visit, cookie: str | None, need: str | None,
                   handler: Callable[[Visit, Form], Response]) -> Response:
    """A page without a form, in one trip to a worker thread."""
    return _admit(visit, cookie, need, False) or handler(visit, {})


async def serve(request: Request, handler: Handler, *, need: str | None,
                post: bool = False) -> Response:
    """Run a page: ``need`` is the scope it takes (None: open to anyone); ``post`` reads
    a form and checks its anti-forgery token first."""
    cookie = request.cookies.get(SESSION_COOKIE)
    visit = visit_of(request, session=None)
    is_async = inspect.iscoroutinefunction(handler)
    try:
        if not post and not is_async:
            return await run_in_threadpool(_admit_and_run, visit, cookie, need,
                                           handler)  # type: ignore[arg-type]
        early = await run_in_threadpool(_admit, visit, cookie, need, post)
        if early is not None:
            return early
        form: Form = {}
        if post:
            found = await read_form(request)
            if found is None:
                return error_page(visit, 400, detail="the form could not be read: "
                                  "send it as application/x-www-form-urlencoded UTF-8")
            given = first(found, "csrf")
            if not given or not hmac.compare_digest(given.encode(), visit.csrf.encode()):
                return error_page(visit, 403, key="error.csrf")
            form = found
        if is_async:
            return await handler(visit, form)  # type: ignore[no-any-return,misc]
        return await run_in_threadpool(handler, visit, form)  # type: ignore[arg-type]
    except BackofficeError as exc:
        if exc.status >= 500 and not isinstance(exc, Unavailable):
            log.error("page error (%s)", type(exc).__name__, exc_info=exc)
        return backoffice_error_page(visit, exc)
    except Exception as exc:  # a bug: logged, and an error page without details
        log.error("internal error in a page (%s)", type(exc).__name__, exc_info=exc)
        return error_page(visit, 500)


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")

"""Rendering pages: the Jinja environment (autoescaped, strict), the visit a page is
rendered for (language, session, anti-forgery token), and the headers every page gets.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import Request, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from backoffice.auth import MANAGE
from backoffice.facade import Backoffice
from backoffice.web import i18n
from backoffice.web.sessions import WebSession, WebSessions

SESSION_COOKIE: Final = "webhooks_session"
CSRF_COOKIE: Final = "webhooks_csrf"  # the forms' token before signing in (double submit)
# Pages hold a merchant's data: no shared cache keeps them, and a browser asks again.
CACHE_PAGE: Final = "private, no-cache"
NO_STORE: Final = "no-store"

_env = Environment(loader=PackageLoader("backoffice.web", "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                   auto_reload=False)


def environment() -> Environment:
    return _env


@dataclass
class Visit:
    """One request to a page: its language, its session if signed in, the forms' token,
    and the cookies the answer must set."""

    request: Request
    office: Backoffice
    sessions: WebSessions
    lang: str
    session: WebSession | None
    pre_csrf: str
    cookies: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session is not None else self.pre_csrf

    @property
    def can_manage(self) -> bool:
        return self.session is not None and MANAGE in self.session.principal.scopes

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https"

    def t(self, key: str, **values: object) -> str:
        return i18n.translate(self.lang, key, **values)


def visit_of(request: Request, *, session: WebSession | None) -> Visit:
    """The visit of ``request``; a first visit gets its pre-session form token."""
    state = request.app.state
    lang = i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    pre = request.cookies.get(CSRF_COOKIE, "")
    visit = Visit(request, state.backoffice, state.web_sessions, lang, session,
                  pre if len(pre) == 43 and pre.isascii() else "")
    if not visit.pre_csrf:
        visit.pre_csrf = secrets.token_urlsafe(32)
        visit.cookies[CSRF_COOKIE] = (visit.pre_csrf, None)
    return visit


def set_cookie(visit: Visit, response: Response, name: str, value: str,
               max_age: int | None) -> None:
    """HttpOnly, SameSite=Strict, Secure under TLS; ``max_age`` 0 removes it."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=visit.secure)


def finish(visit: Visit, response: Response, *, cache: str = CACHE_PAGE) -> Response:
    for name, (value, max_age) in visit.cookies.items():
        set_cookie(visit, response, name, value, max_age)
    response.headers["Cache-Control"] = cache
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response


# Where a page's pre-rendered part goes (``page(splice=...)``): a comment no rendered text
# can forge (autoescaping turns any "<" a value holds into "&lt;"), made unique per process.
SPLICE_MARK: Final = Markup(f"<!--spliced-{secrets.token_hex(8)}-->")


def page(visit: Visit, template: str, *, status: int = 200, cache: str = CACHE_PAGE,
         splice: bytes | None = None, **context: Any) -> Response:
    """``template`` rendered for ``visit`` as an HTML answer. ``splice``: HTML already
    rendered and encoded (the list's kept rows), put where the template shows
    ``splice_mark``, so a large part is neither copied through Jinja nor encoded again."""
    request = visit.request
    html = _env.get_template(template).render(
        t=visit.t, lang=visit.lang, languages=i18n.LANGUAGES, csrf=visit.csrf,
        session=visit.session, can_manage=visit.can_manage,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        path=request.url.path, splice_mark=SPLICE_MARK, **context)
    body = html.encode()
    if splice is not None:
        before, found, after = body.partition(SPLICE_MARK.encode())
        if not found:  # a template bug: the part would silently go missing
            raise RuntimeError(f"{template} shows no splice_mark")
        body = b"".join((before, splice, after))
    return finish(visit, Response(body, status_code=status, media_type="text/html"),
                  cache=cache)


def redirect(visit: Visit, to: str) -> Response:
    """303 See Other to a path of this site (after a form, or to sign in)."""
    return finish(visit, Response(status_code=303, headers={"Location": to}))

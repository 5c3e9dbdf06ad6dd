"""What every router of the API shares: the backoffice, the caller and its scope, the
documented errors, and the mark of an audited operation.

The caller (``Reader``, ``Revealer``, ``Manager``) is found from the bearer token and
kept on the request (``request.state.principal``), so a refusal after authentication can
be recorded in the audit log against the token (``backoffice.http.audit_api``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final, cast

from fastapi import Depends, Path, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from backoffice.auth import MANAGE, READ, REVEAL, Principal
from backoffice.errors import Invalid, Unauthorized
from backoffice.facade import Backoffice
from backoffice.http import bodies

DESCRIPTIONS: Final = {
    400: "Malformed request (If-Match, body encoding, a JSON key given twice)",
    401: "Missing or refused bearer token: the detail says whether it is not valid, "
         "revoked or expired",
    403: "The token lacks the permission",
    404: "No such resource for this merchant",
    409: "A webhook of that name exists",
    412: "If-Match does not match the current version",
    413: "The request body is over 1 MiB",
    422: "The request breaks a rule (the detail names the field)",
    429: "Too many for this merchant (test-fires in flight, or its emits or test-fires "
         "this minute); retry after Retry-After seconds",
    503: "The database is busy; retry after Retry-After seconds",
}
HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}}},
    429: {"Retry-After": {"schema": {"type": "string"}}},
    503: {"Retry-After": {"schema": {"type": "string"}}},
}
# The mark of an operation the audit log records, in its OpenAPI entry: the action.
AUDIT_ACTION: Final = "x-audit-action"
NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of an operation."""
    return {code: {"model": bodies.Problem, "description": DESCRIPTIONS[code],
                   **({"headers": HEADERS[code]} if code in HEADERS else {})}
            for code in codes}


def audited(action: str) -> dict[str, Any]:
    """The route arguments that mark an operation as recorded under ``action``."""
    return {"openapi_extra": {AUDIT_ACTION: action}}


def refuse_repeated(request: Request) -> None:
    """422 for a query parameter given twice: FastAPI would keep one of them, and which
    one the client meant is unknowable."""
    names = [name for name, _ in request.query_params.multi_items()]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise Invalid(f"query.{repeated[0]}: give this parameter once")


_bearer = HTTPBearer(auto_error=False, description="An API token (webhooks token create).")


async def _backoffice(request: Request) -> Backoffice:
    # async: no blocking here, so no hop to the thread pool
    return cast(Backoffice, request.app.state.backoffice)


Office = Annotated[Backoffice, Depends(_backoffice)]


def _caller(needed: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency that finds the caller from its bearer token and requires ``needed``
    (each scope includes the ones below it; READ is checked first)."""

    async def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        # async, one level: a token seen in the last few seconds needs no database, so no
        # thread hop; and each dependency level costs every request its own resolution.
        if credentials is None:
            raise Unauthorized("a bearer token is required: Authorization: Bearer <token>")
        office = cast(Backoffice, request.app.state.backoffice)
        principal = office.tokens.cached(credentials.credentials)
        if principal is None:
            principal = await run_in_threadpool(office.tokens.authenticate,
                                                credentials.credentials)
        request.state.principal = principal
        principal.require(READ)
        if needed != READ:
            principal.require(needed)
        return principal

    caller.__name__ = f"caller_{needed.replace(':', '_')}"
    return caller


_reader = _caller(READ)
_revealer = _caller(REVEAL)
_manager = _caller(MANAGE)


Reader = Annotated[Principal, Depends(_reader)]
Revealer = Annotated[Principal, Depends(_revealer)]
Manager = Annotated[Principal, Depends(_manager)]
WebhookId = Annotated[str, Path(min_length=1, max_length=64)]

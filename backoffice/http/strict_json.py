"""Request bodies read as strict JSON (``contract.strict_json``): a key given twice in one
object is refused with 400 naming it.

Every route of the API is a ``StrictJSONRoute``: its request reads JSON through the strict
reader, once, in the body parsing FastAPI does anyway (no second parse).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from contract import strict_json


class StrictJSONRequest(Request):
    """A request whose ``json()`` refuses duplicate keys (an HTTPException, which FastAPI
    answers as it is: 400)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = strict_json.loads(await self.body())
            except strict_json.DuplicateKey as exc:
                raise HTTPException(400, f"the JSON body is ambiguous: {exc}; give each "
                                         "key once") from None
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose handler gets a ``StrictJSONRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict

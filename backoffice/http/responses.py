"""Answers the parts already built, serialised once.

A route that documents its body with ``response_model`` and returns a dict has FastAPI
validate that dict against the model again, then serialise it: for a page of 1000
webhooks the validation alone cost about as much as reading the page. The parts build
exactly the documented shape (tests check it against the OpenAPI schema), so these
routes keep ``response_model`` for /openapi.json and answer with ``json_response``:
the same bytes (pydantic's serialiser, which FastAPI uses too), without the second look.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic_core import to_json


def json_response(content: Any, *, status_code: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """``content`` as application/json; ``headers`` follow Content-Length and
    Content-Type, in the order FastAPI would send them."""
    response = Response(to_json(content), status_code=status_code,
                        media_type="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response

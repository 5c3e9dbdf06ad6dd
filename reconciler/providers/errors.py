"""The one way a backoffice error becomes a reconciler error, for in-process callers.

The embedded provider and the ``serve`` and ``token`` commands call the backoffice in
this process; its errors carry the HTTP status the API would answer with, so they go
through the same status table as the HTTP provider's responses
(``reconciler.providers.base.error_for_status``), like httpx's ``map_exceptions``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from backoffice.errors import BackofficeError
from reconciler.providers.base import error_for_status


@contextlib.contextmanager
def backoffice_errors(what: str, where: str,
                      *, message: Callable[[str], str] | None = None) -> Iterator[None]:
    """Raise the ProviderError that the status table names for a BackofficeError.

    ``what`` is the action and ``where`` the backoffice, as the table words them;
    ``message(detail)``, when given, is the sentence to show instead (a command that
    does one thing says so), the class still coming from the table.
    """
    try:
        yield
    except BackofficeError as exc:
        retry_after = getattr(exc, "retry_after", None)
        error = error_for_status(exc.status, exc.detail, what, where, retry_after=retry_after)
        if message is not None:
            error = type(error)(message(exc.detail), status=error.status)
        raise error from None

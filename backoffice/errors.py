"""The one exception tree of the backoffice; each error carries its HTTP status.

    BackofficeError                 500  a fault of the backoffice itself
    ├── SetupError                  500  the server cannot start (key, schema, URL)
    ├── BadRequest                  400  a malformed header or request
    ├── Unauthorized                401  missing or invalid bearer token
    ├── Forbidden                   403  the token lacks a permission
    ├── NotFound                    404  no such webhook or merchant (for this merchant)
    ├── Conflict                    409  a unique name or id is taken
    │   └── NameTaken                    a webhook of that name exists
    ├── PreconditionFailed          412  If-Match does not match the current version
    ├── Invalid                     422  the body breaks a rule
    │   └── IdempotencyKeyReused         the key was used with another body
    ├── TooManyRequests             429  too much in flight (test-fires); retry after a moment
    └── Unavailable                 503  the database is busy; retry after a moment

Details are for people and never contain a secret or a token.
"""

from __future__ import annotations


class BackofficeError(Exception):
    """Base of every backoffice error: ``status``, short ``title``, clear ``detail``."""

    status: int = 500
    title: str = "Internal error"
    slug: str = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def type_uri(self) -> str:
        return f"urn:webhooks-backoffice:problem:{self.slug}"


class SetupError(BackofficeError):
    title = "Backoffice setup error"
    slug = "setup"


class BadRequest(BackofficeError):
    status = 400
    title = "Bad request"
    slug = "bad-request"


class Unauthorized(BackofficeError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(BackofficeError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFound(BackofficeError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(BackofficeError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class NameTaken(Conflict):
    title = "Name taken"
    slug = "name-taken"


class PreconditionFailed(BackofficeError):
    status = 412
    title = "Precondition failed"
    slug = "precondition-failed"


class Invalid(BackofficeError):
    status = 422
    title = "Invalid request"
    slug = "invalid"


class IdempotencyKeyReused(Invalid):
    title = "Idempotency key reused"
    slug = "idempotency-key-reused"


class TooManyRequests(BackofficeError):
    """Refused for now: the merchant has as much in flight as it may; ``retry_after`` s."""

    status = 429
    title = "Too many requests"
    slug = "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(BackofficeError):
    status = 503
    title = "Service unavailable"
    slug = "unavailable"
    retry_after: int = 1

"""The wire bodies of access and its record (pydantic; /openapi.json publishes them):
API tokens, the audit log and a revealed secret. The webhook and delivery bodies are
in ``bodies``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backoffice import audit, auth

if TYPE_CHECKING:
    AuditAction = str
else:  # the audit module's list: a new action is one entry there
    AuditAction = Literal[audit.ACTIONS]
TokenScope = Literal["read", "reveal", "manage"]
TokenStatus = Literal["active", "expired", "revoked"]
TokenName = Annotated[str, StringConstraints(pattern=auth.TOKEN_NAME_PATTERN)]
Duration = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Cursor = Annotated[str, StringConstraints(max_length=120)]


class TokenCreate(BaseModel):
    """A new token for the caller's merchant, of the caller's scope or a weaker one."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: TokenName | None = Field(
        default=None, description="1 to 64 letters, digits, '.', '_' or '-' (e.g. ci-apply); "
        "default: the scope and the day, e.g. read-20261128")
    scope: TokenScope = Field(description="read; reveal (read, and revealing secrets); "
                              "manage (everything)")
    expires_in: Duration | None = Field(
        default=None, description="A lifetime such as 90d, 12h or 3600 (seconds); "
        "omit it for a token that never expires")


class Token(BaseModel):
    """A token as lists show it: never the token, nor its hash."""

    id: str = Field(description="The public id (tok_...): for revocation and the audit log")
    name: str
    scope: TokenScope
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None = Field(
        description="The last request it authenticated, to the minute (written at most "
                    "once a minute)")
    revoked_at: Timestamp | None
    status: TokenStatus


class CreatedToken(Token):
    token: str = Field(description="The token itself: shown this once, never again")


class TokenPage(BaseModel):
    data: list[Token]
    next_cursor: str | None


class TokensQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)
    cursor: Cursor | None = Field(default=None, description="next_cursor of the previous page")


class AuditEntry(BaseModel):
    """One write, or one refused attempt at a write, of the merchant."""

    at: Timestamp
    actor: str = Field(description="The token's name at the time, or cli:local for the "
                                   "local operator (the CLI on the database itself)")
    actor_token_id: str | None = Field(description="The token's id; null for cli:local")
    action: AuditAction
    target_id: str | None = Field(description="The webhook, delivery, notification or "
                                              "token acted on")
    target_name: str | None
    fields: list[str] = Field(description="The names of the fields it set; never a value")
    outcome: Literal["ok", "refused"]
    status: int = Field(description="The HTTP status it was answered with")
    note: str | None = Field(description="A short summary; for a refusal, the status's "
                                         "title (never the detail, which may quote input)")


class AuditPage(BaseModel):
    data: list[AuditEntry]
    next_cursor: str | None


class AuditQuery(BaseModel):
    """The audit log's filter and paging, newest first."""

    model_config = ConfigDict(extra="forbid")

    since: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="Entries since then: a duration ago (2h, 7d) or an "
                                  "ISO-8601 moment")
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: Cursor | None = Field(default=None, description="next_cursor of the previous page")


class RevealedSecret(BaseModel):
    """A URL webhook's secret in clear (the reveal is recorded in the audit log)."""

    webhook_id: str
    name: str
    secret: str
    secret_fingerprint: str | None

"""The API's request and response bodies (pydantic), which /openapi.json publishes.

Requests forbid unknown fields and bound every string, list and map, so hostile
bodies fail validation (422) before any rule runs; the parts then apply the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backoffice import rules
from contract import catalogue, fingerprints, formats
from contract import secrets as secret_rules

if TYPE_CHECKING:
    NotificationCode = str
    DeliveryFormat = str
else:  # the contract's lists: adding a type or a format is one entry there
    NotificationCode = Literal[catalogue.CODES]
    DeliveryFormat = Literal[formats.NAMES]
WebhookType = Literal["url", "email"]

Name = Annotated[str, StringConstraints(min_length=1, max_length=63,
                                        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
Url = Annotated[str, StringConstraints(min_length=1, max_length=rules.MAX_URL)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=rules.MAX_EMAIL)]
Application = Annotated[str, StringConstraints(
    min_length=1, max_length=64,
    pattern=r"^(merchant|(store|terminal):[A-Za-z0-9][A-Za-z0-9._-]{0,31})$",
)]
Notifications = Annotated[list[NotificationCode], Field(min_length=1, max_length=64)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=rules.MAX_SECRET),
                   Field(json_schema_extra={"writeOnly": True})]
Description = Annotated[str, StringConstraints(max_length=rules.MAX_DESCRIPTION)]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9./-]{0,62}$")]
LabelValue = Annotated[str, StringConstraints(max_length=rules.MAX_LABEL_VALUE)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=rules.MAX_LABELS)]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
GraceSeconds = Annotated[int, Field(
    ge=0, le=secret_rules.MAX_GRACE_S,
    description="How long the replaced secret stays valid, in seconds (default "
                f"{secret_rules.DEFAULT_GRACE_S}: a day; 0: not at all)")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ListQuery(BaseModel):
    """The list's query: the Backoffice's four filters and paging. An unknown parameter
    is a 422, so a misspelt filter never silently lists everything."""

    model_config = ConfigDict(extra="forbid")

    credential: str | None = Field(
        default=None, max_length=64, description="Webhooks covering this credential's terminal")
    notification: NotificationCode | None = Field(
        default=None, description="Webhooks subscribed to this notification type")
    type: WebhookType | None = None
    webhook: str | None = Field(
        default=None, max_length=rules.MAX_SEARCH,
        description="Text in the URL (as shown: a password never matches) or e-mail")
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(
        default=None, max_length=64, description="next_cursor of the previous page")


class AppliedIn(_Request):
    """The last-applied record a create or PATCH carries when ``webhooks apply`` makes it."""

    digest: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")] = Field(
        description="The digest of the spec the tool applied")
    revision: Annotated[str, StringConstraints(
        pattern=r"^[0-9a-f]{7,64}(-dirty)?$")] | None = Field(
        default=None, description="The git commit of the config, '-dirty' when the file "
                                  "had uncommitted changes; null outside git")
    owner: Name = Field(description="The owner of the config that applied it")


class Applied(BaseModel):
    """The last-applied record: what the last apply asked for, when, and the webhook as it
    left it (``state``: the webhook's fields, the secret only as its fingerprint)."""

    digest: str
    revision: str | None
    owner: str | None
    at: Timestamp
    state: dict[str, Any]


class WebhookCreate(_Request):
    """A new webhook: the six steps of the Backoffice's Create webhook form."""

    name: Name
    type: WebhookType
    url: Url | None = None
    email: Email | None = None
    application: Application
    notifications: Notifications
    secret: Secret | None = Field(
        default=None, description="Write-only; generated when omitted (url webhooks only).")
    support_email: Email | None = None
    format: DeliveryFormat | None = Field(
        default=None, description="url webhooks only; default sibs.")
    enabled: bool = True
    description: Description = ""
    labels: Labels = Field(default_factory=dict)
    applied: AppliedIn | None = Field(
        default=None, description="Sent by `webhooks apply`: recorded as the last-applied "
                                  "record")


class WebhookPatch(_Request):
    """Any subset of the changeable fields; ``labels`` replaces the whole map. A new
    ``name`` renames the webhook: it keeps its id, secret and delivery history."""

    name: Name | None = Field(default=None, description="Unique per merchant.")
    url: Url | None = None
    email: Email | None = None
    application: Application | None = None
    notifications: Notifications | None = None
    secret: Secret | None = Field(
        default=None, description="Write-only; omit to keep it. The secret it replaces "
        "stays valid for secret_grace_seconds (Standard Webhooks deliveries carry both "
        "signatures; sibs ones keep the old key until a test-fire with the new one is "
        "acknowledged).")
    secret_grace_seconds: GraceSeconds | None = None
    support_email: Email | None = None
    format: DeliveryFormat | None = None
    enabled: bool | None = None
    description: Description | None = None
    labels: Labels | None = None
    applied: AppliedIn | None = Field(
        default=None, description="Sent by `webhooks apply`: recorded as the last-applied "
                                  "record (the version changes even if nothing else does)")


class RotateRequest(_Request):
    """A secret rotation: the new secret is generated; the old one stays valid for
    ``grace_seconds``."""

    grace_seconds: GraceSeconds | None = None


class Webhook(BaseModel):
    """A webhook as the backoffice returns it: the secret only as a fingerprint."""

    id: str
    name: str
    type: WebhookType
    url: str | None = Field(description="Any credentials redacted: the user part as "
                            "user:***@ (***@ for a bare user), a query string as ?***")
    url_fingerprint: str | None = Field(
        pattern=f"^{fingerprints.PATTERN}$",
        description="Null unless the URL has credentials (a user part or a query string); "
                    "then the fingerprint of the whole URL: 'sha256:' + the first 16 hex "
                    "digits of HMAC-SHA256(the merchant's fingerprint key, "
                    "'webhooks-reconciler/url/v2' + NUL + the URL in canonical form); "
                    "the key: GET /v1/fingerprint-key")
    email: str | None
    application: str
    notifications: list[NotificationCode]
    support_email: str | None
    format: DeliveryFormat | None
    enabled: bool
    description: str
    secret_fingerprint: str | None = Field(
        pattern=f"^{fingerprints.PATTERN}$",
        description="'sha256:' + the first 16 hex digits of HMAC-SHA256(the merchant's "
                    "fingerprint key, 'webhooks-reconciler/secret/v2' + NUL + the secret); "
                    "the key: GET /v1/fingerprint-key")
    labels: dict[str, str]
    version: int = Field(ge=1)
    created_at: Timestamp
    updated_at: Timestamp
    secret_weak: bool = Field(
        description="The stored secret is weak (typed text, repeats or a pattern; one "
                    "stored before such secrets were refused): rotate it")
    previous_secret_fingerprint: str | None = Field(
        pattern=f"^{fingerprints.PATTERN}$",
        description="During a rotation's grace: the replaced secret's fingerprint")
    previous_secret_valid_until: Timestamp | None = Field(
        description="When the replaced secret stops being valid (null: no grace running)")
    delivery_secret: Literal["current", "previous", "both"] | None = Field(
        description="Which secret deliveries use now: both (Standard Webhooks signs with "
                    "each during the grace), previous (sibs, until a test-fire with the new "
                    "one is acknowledged or the grace ends) or current; null for e-mail")
    applied: Applied | None = Field(
        default=None, description="The last-applied record; null until an apply writes it")


class WebhookPage(BaseModel):
    data: list[Webhook]
    next_cursor: str | None


class NotificationType(BaseModel):
    code: NotificationCode
    label: str


class Store(BaseModel):
    code: str
    name: str


class Terminal(BaseModel):
    id: str
    store: str


class Credential(BaseModel):
    client_id: str
    terminal: str


class Policy(BaseModel):
    private_targets: Literal["allowed", "refused"] = Field(
        description="refused: a URL whose host is a literal loopback, private, link-local, "
                    "unspecified or cloud metadata address (127.0.0.1, 10.0.0.1, "
                    "169.254.169.254, 2130706433, [::ffff:127.0.0.1]...) is refused (422) "
                    "at create and update; host names are checked at each delivery")


class Catalog(BaseModel):
    notification_types: list[NotificationType]
    stores: list[Store]
    terminals: list[Terminal]
    credentials: list[Credential]
    policy: Policy = Field(description="What this backoffice accepts, for clients to check "
                                       "a config against (webhooks validate)")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str] = Field(
        description='Each check ("database", "worker") and its state: "ok", or '
                    '"not run in this process" for a worker this process does not run.')


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail, served as application/problem+json."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = Field(
        default=None, description="Each invalid field, for request validation errors.")


# --- notifications and deliveries ------------------------------------------------------------

PaymentStatus = Literal["Success", "Pending", "InProcessing", "Declined", "Error", "Timeout"]
DeliveryStatus = Literal["pending", "delivered", "failed", "gave_up"]
TerminalId = Annotated[str, StringConstraints(min_length=1, max_length=32,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
PaymentMethod = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Moment = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
ScenarioName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class TestRequest(_Request):
    """What the test sends: a scenario, or the default scenario of a notification type
    (default: the webhook's first type)."""

    notification: NotificationCode | None = None
    scenario: ScenarioName | None = Field(
        default=None, description="A scenario of a type the webhook subscribes to "
        "(`webhooks emit --list-scenarios`), e.g. mbway-purchase-declined")


class AmountIn(_Request):
    value: float = Field(ge=0, le=1e12, allow_inf_nan=False)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "EUR"


class EmitRequest(_Request):
    """A payment notification to emit: it goes to every enabled webhook that covers the
    terminal and subscribes to the type."""

    terminal: TerminalId
    type: NotificationCode | None = Field(
        default=None, description="The notification type; required unless scenario says it")
    scenario: ScenarioName | None = Field(
        default=None, description="The documented case to send (default: the type's first, "
        "its successful purchase); its type must match type when both are given")
    payment_method: PaymentMethod | None = Field(
        default=None, description="Overrides the scenario's paymentMethod")
    status: PaymentStatus | None = Field(default=None, description="Default Success")
    amount: AmountIn | None = Field(default=None, description="Default 10.00 EUR")


class Amount(BaseModel):
    value: float
    currency: str


class NotificationMerchant(BaseModel):
    model_config = ConfigDict(extra="allow")

    transactionId: str
    terminalId: str
    merchantName: str
    inApp: str


class ReturnStatus(BaseModel):
    statusCode: str
    statusMsg: str


class Notification(BaseModel):
    """A payment notification as receivers get it (decrypted, for sibs), in the gateway's
    documented structure: the generic fields below, then the method's blocks (token,
    paymentReference, mbwayMandate, merchantInitiatedTransaction, financialOperation),
    internalTransactionId; a test notification has `"test": true` besides."""

    model_config = ConfigDict(extra="allow")

    returnStatus: ReturnStatus
    paymentStatus: PaymentStatus
    paymentMethod: str
    transactionID: str
    transactionDateTime: Timestamp
    amount: Amount
    merchant: NotificationMerchant
    paymentType: str
    notificationID: str


class SentRequest(BaseModel):
    method: Literal["POST"]
    url: str = Field(description="The target URL, any password redacted")
    headers: dict[str, str]
    body_excerpt: str = Field(description="The first 512 characters of the body sent")


class ReceivedResponse(BaseModel):
    status: int | None
    headers: dict[str, str]
    body_excerpt: str = Field(description="The first 1024 bytes of the response body")
    duration_ms: float
    error: str | None = Field(description="Why there was no acceptable response, if so")


class TestResult(BaseModel):
    """What one test delivery did (200 even when it was not delivered)."""

    delivered: bool
    reason: str
    notification: Notification
    notification_type: NotificationCode
    scenario: str
    request: SentRequest
    response: ReceivedResponse
    delivery_id: str


class Delivery(BaseModel):
    """One delivery of a notification to a webhook: ``failed`` will be retried at
    ``next_attempt_at``; ``gave_up`` will not."""

    id: str
    webhook_id: str
    notification_id: str
    notification_type: NotificationCode
    test: bool
    status: DeliveryStatus
    attempts: int = Field(ge=0)
    created_at: Moment
    last_attempt_at: Moment | None
    next_attempt_at: Moment | None
    last_status_code: int | None
    last_error: str | None
    response_excerpt: str | None


class DeliveryPage(BaseModel):
    data: list[Delivery]


class DeliveriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=1000)


class EmittedDelivery(BaseModel):
    id: str
    webhook: str
    webhook_id: str
    status: Literal["pending"]


class EmitResult(BaseModel):
    notification: Notification
    notification_type: NotificationCode
    scenario: str
    deliveries: list[EmittedDelivery]


# --- the delivery log: attempts, resend, recover ---------------------------------------------

Since = Annotated[str, StringConstraints(min_length=1, max_length=64), Field(
    description="A duration ago (2h, 90m, 7d) or an ISO-8601 moment (2026-11-29T10:00:00Z)")]


class Attempt(BaseModel):
    """One attempt of a delivery, as it went."""

    number: int = Field(ge=1, description="1 for the delivery's first attempt")
    started_at: Moment
    duration_ms: int = Field(ge=0)
    outcome: Literal["delivered", "failed"]
    status_code: int | None = Field(description="The receiver's HTTP status; null: no answer")
    error: str | None = Field(description="Why it failed, for people")
    response_excerpt: str | None = Field(description="The start of the receiver's answer")


class LoggedDelivery(Delivery):
    """A delivery with every attempt made so far, oldest first."""

    history: list[Attempt]


class DeliveryLogPage(BaseModel):
    data: list[LoggedDelivery]
    next_cursor: str | None


class DeliveryLogQuery(BaseModel):
    """The delivery log's filters (they combine) and paging, newest first."""

    model_config = ConfigDict(extra="forbid")

    webhook: str | None = Field(default=None, min_length=1, max_length=64,
                                description="Only this webhook's deliveries (its id)")
    status: DeliveryStatus | None = None
    since: Since | None = Field(default=None, description="Deliveries created since then: "
                                "a duration ago (2h) or an ISO-8601 moment")
    notification: str | None = Field(default=None, min_length=1, max_length=64,
                                     description="Only the deliveries of this notification id")
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(
        default=None, max_length=64, description="next_cursor of the previous page")


class RecoverRequest(_Request):
    since: Since


class RecoverResult(BaseModel):
    webhook_id: str
    since: Moment = Field(description="The moment the request's since named")
    recovered: int = Field(ge=0, description="How many deliveries were made due again")

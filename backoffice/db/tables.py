"""The SQL tables (SQLAlchemy Core), portable between SQLite and PostgreSQL.

On PostgreSQL: Integer primary keys are SERIAL, LargeBinary BYTEA, JSON json, Boolean
boolean, and the String lengths are enforced (the rules and the engine keep within them);
moments compare in the "C" collation, so text order stays time order under any locale.

Notifications live in a child table with a (webhook, notification) key, so the list
filter by notification is an indexed EXISTS probe rather than a scan of JSON text.
Moments are stored as the ISO-8601 UTC text the API returns ("2026-11-28T04:00:00Z"):
fixed width, so text order is time order, and a page of 1000 rows needs no conversion.
Delivery moments (``Moment``) carry milliseconds ("2026-11-28T04:00:00.250Z"), also
fixed width: retries can be due a fraction of a second apart.
Version 2 added notifications and deliveries (``MIGRATIONS`` holds the step); version 3
added ``url_sealed`` and ``url_fingerprint`` (``NEW_COLUMNS``): a URL with credentials is
kept in ``url`` redacted and in ``url_sealed`` whole, sealed like a secret. Version 5
gave tokens a public id, a name, an expiry, their last use and their revocation (the
upgrade gives existing tokens ids and names), and added the audit log.
Version 6 added ``merchants.fingerprint_key_sealed`` (each merchant's fingerprint key,
sealed), recomputed every stored fingerprint under it and sealed the URLs whose query
string was stored in clear (``backoffice.upgrades``). Version 7 added a secret's rotation
(the previous secret, sealed, valid until a moment; whether a test-fire acknowledged the
new one) and ``secret_weak`` (``NEW_COLUMNS``; the upgrade marks the stored secrets that
are weak). Version 8 added ``web_sessions`` (the web pages' sign-ins). Version 9 added
the ``applied_*`` columns: the last-applied record of ``webhooks apply``
(``backoffice/applied.py``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

SCHEMA_VERSION: Final = 9
# Text order must be time order on PostgreSQL too, whatever the database's locale.
Timestamp = String(20).with_variant(String(20, collation="C"), "postgresql")
Moment = String(24).with_variant(String(24, collation="C"), "postgresql")


@lru_cache(maxsize=4096)
def _decode_labels(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(json.loads(text).items())


class LabelsType(TypeDecorator[dict[str, str]]):
    """A label map as canonical JSON text. Most webhooks share a handful of label sets
    (managed-by, owner), so decoding is cached: a page of 1000 rows parses a few."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, str] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, str] | None:
        return None if value is None else dict(_decode_labels(value))

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
)

meta = Table(
    "meta", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

merchants = Table(
    "merchants", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    # version 6: the key of the merchant's published fingerprints, sealed (never null once
    # the version 6 upgrade ran; contract.fingerprints)
    Column("fingerprint_key_sealed", LargeBinary),
)

stores = Table(
    "stores", metadata,
    Column("merchant_id", String(64), ForeignKey("merchants.id", ondelete="CASCADE"),
           primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
)

terminals = Table(
    "terminals", metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("store_code", String(32), nullable=False),
    ForeignKeyConstraint(["merchant_id", "store_code"], ["stores.merchant_id", "stores.code"],
                         ondelete="CASCADE"),
)

credentials = Table(
    "credentials", metadata,
    Column("client_id", String(64), primary_key=True),
    Column("merchant_id", String(64), nullable=False),
    Column("terminal_id", String(32), nullable=False),
    ForeignKeyConstraint(["merchant_id", "terminal_id"], ["terminals.merchant_id", "terminals.id"],
                         ondelete="CASCADE"),
)

webhooks = Table(
    "webhooks", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),  # keyset pagination order
    Column("id", String(40), nullable=False, unique=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id", ondelete="CASCADE"),
           nullable=False),
    Column("name", String(63), nullable=False),
    Column("type", String(8), nullable=False),
    Column("url", String(2048)),  # redacted when it has credentials (see url_sealed)
    Column("email", String(254)),
    # application split for the credential filter: kind merchant|store|terminal, ref code/id
    Column("app_kind", String(8), nullable=False),
    Column("app_ref", String(32)),
    Column("support_email", String(254)),
    Column("format", String(24)),
    Column("enabled", Boolean, nullable=False),
    Column("description", Text, nullable=False),
    Column("secret_sealed", LargeBinary),
    Column("secret_fingerprint", String(32)),
    # version 3: the whole URL, sealed, when it carries credentials; and its fingerprint
    Column("url_sealed", LargeBinary),
    Column("url_fingerprint", String(32)),
    # version 7: the secret replaced last, sealed (bound to "<id>#previous"), valid until
    # previous_secret_until; secret_acknowledged: a test-fire with the current secret was
    # acknowledged (sibs deliveries then use it before the grace ends); secret_weak: the
    # stored secret breaks contract.secrets' rule (one stored before the rule existed).
    Column("previous_secret_sealed", LargeBinary),
    Column("previous_secret_fingerprint", String(32)),
    Column("previous_secret_until", Timestamp),
    Column("secret_acknowledged", Boolean),
    Column("secret_weak", Boolean),
    # version 9: the last-applied record (backoffice/applied.py): what the last `webhooks
    # apply` asked for (a digest, the config's git revision, its owner), when, and the
    # webhook as that apply left it (JSON; the secret only as its fingerprint)
    Column("applied_digest", String(71)),
    Column("applied_revision", String(70)),
    Column("applied_owner", String(63)),
    Column("applied_at", Timestamp),
    Column("applied_state", Text),
    Column("labels", LabelsType, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("merchant_id", "name", name="uq_webhooks_merchant_name"),
    Index("ix_webhooks_merchant_pk", "merchant_id", "pk"),
)

webhook_notifications = Table(
    "webhook_notifications", metadata,
    Column("webhook_pk", Integer, ForeignKey("webhooks.pk", ondelete="CASCADE"),
           primary_key=True),
    Column("notification", String(32), primary_key=True),
)

idempotency = Table(
    "idempotency", metadata,
    Column("merchant_id", String(64), ForeignKey("merchants.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Index("ix_idempotency_created_at", "created_at"),
)

tokens = Table(
    "tokens", metadata,
    Column("hash", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id", ondelete="CASCADE"),
           nullable=False),
    Column("scope", String(32), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    # version 5 (nullable as added columns are; every row has id and name after it)
    Column("id", String(40)),  # the public id, tok_...: lists, revocation, the audit log
    Column("name", String(64)),
    Column("expires_at", Timestamp),  # null: never expires
    Column("last_used_at", Timestamp),  # written at most once a minute per token
    Column("revoked_at", Timestamp),
)
tokens_id_index = Index("ix_tokens_id", tokens.c.id, unique=True)
tokens_merchant_index = Index("ix_tokens_merchant", tokens.c.merchant_id, tokens.c.created_at,
                              tokens.c.id)

# --- version 2: notifications and their deliveries -------------------------------------------

notifications = Table(
    "notifications", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),  # the JSON's notificationID
    Column("merchant_id", String(64), ForeignKey("merchants.id", ondelete="CASCADE"),
           nullable=False),
    Column("type", String(32), nullable=False),
    Column("terminal_id", String(32), nullable=False),
    Column("test", Boolean, nullable=False),
    Column("payload", JSON, nullable=False),  # the notification JSON (no secret in it)
    Column("created_at", Moment, nullable=False),
)

deliveries = Table(
    "deliveries", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("webhook_pk", Integer, ForeignKey("webhooks.pk", ondelete="CASCADE"),
           nullable=False),
    Column("notification_pk", Integer, ForeignKey("notifications.pk", ondelete="CASCADE"),
           nullable=False),
    Column("test", Boolean, nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, failed, gave_up
    Column("attempts", Integer, nullable=False),
    Column("created_at", Moment, nullable=False),
    Column("next_attempt_at", Moment),  # null: nothing scheduled (done, gave up, a test)
    Column("last_attempt_at", Moment),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("response_excerpt", Text),
    # A worker's claim: another worker leaves the row alone until lease_until passes.
    Column("lease_until", Moment),
    Column("claim", String(32)),
    Column("reported_attempts", Integer, nullable=False),  # attempts the support mail covered
    # Due lookup: status IN (pending, failed) AND next_attempt_at <= now.
    Index("ix_deliveries_due", "status", "next_attempt_at"),
    Index("ix_deliveries_webhook", "webhook_pk", "pk"),
    Index("ix_deliveries_notification", "notification_pk"),
)

# --- version 4: every attempt of a delivery ---------------------------------------------------

attempts = Table(
    "attempts", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("delivery_pk", Integer, ForeignKey("deliveries.pk", ondelete="CASCADE"),
           nullable=False),
    Column("number", Integer, nullable=False),  # 1 for the first attempt of the delivery
    Column("started_at", Moment, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered, failed
    Column("status_code", Integer),  # null: no HTTP answer (refused, timed out, e-mail)
    Column("error", Text),  # why it failed, for people; never a secret
    Column("response_excerpt", Text),  # the start of the receiver's answer
    Index("ix_attempts_delivery", "delivery_pk", "number"),
)

# --- version 5: who changed what ---------------------------------------------------------------

audit_log = Table(
    "audit_log", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),  # newest first, cursors
    Column("merchant_id", String(64), ForeignKey("merchants.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", Moment, nullable=False),
    Column("actor_token_id", String(40)),  # null: the local operator (no token)
    Column("actor", String(64), nullable=False),  # the token's name then, or cli:local
    Column("action", String(32), nullable=False),  # webhook.update, secret.reveal, ...
    Column("target_id", String(64)),
    Column("target_name", String(200)),
    Column("fields", JSON, nullable=False),  # the names of the fields it set, never values
    Column("outcome", String(8), nullable=False),  # ok, refused
    Column("status", Integer, nullable=False),  # the HTTP status it was answered with
    Column("note", String(200)),  # a short summary, or why it was refused; never a value
    Index("ix_audit_log_merchant", "merchant_id", "pk"),
    # the rate limits count a merchant's recent emits and test-fires here
    Index("ix_audit_log_rate", "merchant_id", "action", "outcome", "at"),
)

# --- version 8: the web pages' sign-in sessions ----------------------------------------------

web_sessions = Table(
    "web_sessions", metadata,
    # SHA-256 of the cookie's random 256-bit id: the database never holds the id itself.
    Column("id_hash", String(64), primary_key=True),
    # The hash of the API token signed in with (never the token); every request re-checks it.
    Column("token_hash", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),  # the forms' anti-forgery token
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False),
    Index("ix_web_sessions_token", "token_hash"),
    Index("ix_web_sessions_expires", "expires_at"),
)

# version -> the tables that version added (created in this order by the migration);
# a step with nothing here (nor in NEW_COLUMNS) changes nothing but the version.
MIGRATIONS: Final[dict[int, tuple[Table, ...]]] = {
    2: (notifications, deliveries),
    4: (attempts,),
    5: (audit_log,),
    8: (web_sessions,),
}
# version -> the columns that version added to existing tables (nullable, no default)
NEW_COLUMNS: Final[dict[int, tuple[Column[Any], ...]]] = {
    3: (webhooks.c.url_sealed, webhooks.c.url_fingerprint),
    5: (tokens.c.id, tokens.c.name, tokens.c.expires_at, tokens.c.last_used_at,
        tokens.c.revoked_at),
    6: (merchants.c.fingerprint_key_sealed,),
    7: (webhooks.c.previous_secret_sealed, webhooks.c.previous_secret_fingerprint,
        webhooks.c.previous_secret_until, webhooks.c.secret_acknowledged,
        webhooks.c.secret_weak),
    9: (webhooks.c.applied_digest, webhooks.c.applied_revision, webhooks.c.applied_owner,
        webhooks.c.applied_at, webhooks.c.applied_state),
}
# version -> the indexes that version added to existing tables (made after its data rewrite)
NEW_INDEXES: Final[dict[int, tuple[Index, ...]]] = {
    5: (tokens_id_index, tokens_merchant_index),
}

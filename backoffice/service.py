"""The backoffice's rules, callable in-process (embedded provider) and from the API.

Every rule lives here: the API only translates HTTP to these calls and back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from backoffice import auth, catalog, rules
from backoffice.crypto import (
    SecretBox,
    generate_secret,
    load_server_key,
    redact_url,
    secret_fingerprint,
    url_fingerprint,
    url_has_credentials,
)
from backoffice.crypto import secret_problem as _secret_problem
from backoffice.db.engine import Store, WebhookRecord, parse_url, sqlite_file
from backoffice.delivery.engine import Deliveries
from backoffice.delivery.settings import DeliverySettings
from backoffice.errors import (
    Conflict,
    IdempotencyKeyReused,
    Invalid,
    NameTaken,
    NotFound,
    PreconditionFailed,
    SetupError,
    Unauthorized,
)

ENV_DATA_DIR: Final = "WEBHOOKS_DATA_DIR"
IDEMPOTENCY_TTL: Final = timedelta(hours=24)
MAX_PAGE: Final = 1000
_CURSOR_RE: Final = re.compile(r"v1:([0-9]{1,18})")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Page:
    """One page of the Webhooks list; ``next_cursor`` is None on the last page."""

    data: list[dict[str, Any]]
    next_cursor: str | None


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{pk}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        text = ""
    match = _CURSOR_RE.fullmatch(text) if len(cursor) <= 40 else None
    if match is None:
        raise Invalid("cursor is not valid: pass the next_cursor of a previous page, "
                      "or omit it to start from the first page")
    return int(match.group(1))


def _request_hash(given: Mapping[str, Any]) -> str:
    """SHA-256 of the checked body: sets sorted, so equal requests hash equal.

    The secret, and a URL with credentials, enter as their fingerprints (the URL with
    its redaction): the record then holds nothing derived from them that the API does
    not already show.
    """
    canonical = dict(given)
    if isinstance(canonical.get("secret"), str):
        canonical["secret"] = secret_fingerprint(canonical["secret"])
    url = canonical.get("url")
    if isinstance(url, str) and url_has_credentials(url):
        canonical["url"] = [redact_url(url), url_fingerprint(url)]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def url_context(webhook_id: str) -> str:
    """The sealed URL's associated data: bound to its webhook, and never a secret's."""
    return f"{webhook_id}#url"


def url_values(box: SecretBox, webhook_id: str, url: str | None) -> dict[str, Any]:
    """The stored URL columns: a URL with credentials is kept redacted, and sealed whole."""
    if url is None or not url_has_credentials(url):
        return {"url": url, "url_sealed": None, "url_fingerprint": None}
    return {"url": redact_url(url), "url_sealed": box.seal(url, context=url_context(webhook_id)),
            "url_fingerprint": url_fingerprint(url)}


def public(record: WebhookRecord) -> dict[str, Any]:
    """A webhook as the API returns it: never the secret, only its fingerprint; the URL
    with any credentials redacted, and their fingerprint."""
    return {
        "id": record.id, "name": record.name, "type": record.type,
        "url": record.url, "url_fingerprint": record.url_fingerprint,
        "email": record.email, "application": record.application,
        "notifications": list(record.notifications), "support_email": record.support_email,
        "format": record.format, "enabled": record.enabled, "description": record.description,
        "secret_fingerprint": record.secret_fingerprint, "labels": dict(record.labels),
        "version": record.version,
        "created_at": record.created_at, "updated_at": record.updated_at,
    }


def _check_shape(state: Mapping[str, Any], *, secret_given: bool) -> None:
    """Type-dependent fields: url webhooks have url and format, e-mail ones email only."""
    if state["type"] == "url":
        if state.get("url") is None:
            raise Invalid("url is required for a url webhook")
        if state.get("email") is not None:
            raise Invalid("email is only for email webhooks; a url webhook takes url")
        if state.get("format") is None:
            raise Invalid("format cannot be null for a url webhook: use sibs or standard-webhooks")
    else:
        if state.get("email") is None:
            raise Invalid("email is required for an email webhook")
        if state.get("url") is not None:
            raise Invalid("url is only for url webhooks; an email webhook takes email")
        if state.get("format") is not None:
            raise Invalid("format is only for url webhooks: an email webhook sends e-mails")
        if secret_given:
            raise Invalid("secret is only for url webhooks: an email webhook has no secret")


class Backoffice:
    """Merchants, their webhooks and API tokens, over one ``Store``."""

    def __init__(self, store: Store, box: SecretBox, *, allow_http_loopback: bool = True,
                 clock: Clock = utc_now, delivery: DeliverySettings | None = None,
                 allow_private_targets: bool | None = None,
                 data_dir: Path | None = None) -> None:
        self.store = store
        self.box = box
        self.allow_http_loopback = allow_http_loopback
        self.clock = clock
        settings = delivery or DeliverySettings()
        if allow_private_targets is not None:
            settings = replace(settings, allow_private_targets=allow_private_targets)
        self.delivery_settings = settings
        self.deliveries = Deliveries(self, self.delivery_settings, data_dir=data_dir)
        self._sealed_on_upgrade = False  # set when a migration rewrote clear URLs

    @classmethod
    def open(cls, db_url: str, *, data_dir: str | Path | None = None,
             server_key: bytes | None = None, allow_http_loopback: bool = True,
             seed_demo: bool = True, clock: Clock = utc_now,
             env: Mapping[str, str] | None = None,
             delivery: DeliverySettings | None = None,
             allow_private_targets: bool | None = None) -> Backoffice:
        """Open (creating and seeding when empty) the backoffice at ``db_url``.

        The server key: ``server_key``, else ``WEBHOOKS_SERVER_KEY``, else ``server.key`` in
        ``data_dir`` (default ``WEBHOOKS_DATA_DIR``, else the SQLite file's directory).
        E-mail deliveries without an SMTP relay go to ``<data dir>/outbox/``.
        ``allow_private_targets`` (when given) overrides ``delivery``'s: True lets
        deliveries reach loopback and private addresses (local development only).
        """
        env = os.environ if env is None else env
        url = parse_url(db_url)
        store = Store.open(db_url)
        try:
            folder = _data_dir(url_file=sqlite_file(url), data_dir=data_dir, env=env)
            if server_key is None:
                server_key = _server_key(folder, backend=url.get_backend_name(), env=env)
            box = SecretBox(server_key)
            office = cls(store, box, allow_http_loopback=allow_http_loopback, clock=clock,
                         delivery=delivery, allow_private_targets=allow_private_targets,
                         data_dir=folder)
            store.migrate(office._seed_demo if seed_demo else None, office._upgrade)
            office._check_key()
            if office._sealed_on_upgrade:
                store.checkpoint()  # no page of the clear URLs left in the WAL
        except OperationalError as exc:  # cannot connect, cannot open the file, read-only
            store.close()
            reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
            raise SetupError(f"cannot use database {office_url(store)}: {reason}") from None
        except BaseException:
            store.close()
            raise
        return office

    @property
    def db_url(self) -> str:
        """The database URL with any password masked, for messages."""
        return office_url(self.store)

    def close(self) -> None:
        self.deliveries.close()
        self.store.close()

    def __enter__(self) -> Backoffice:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _now(self) -> str:
        """Now, as the database stores moments and the API shows them."""
        return iso(self.clock())

    def _check_key(self) -> None:
        with self.store.write() as conn:
            known = self.store.get_meta(conn, "server_key_id")
            if known == self.box.key_id:
                return
            if known is not None and self.store.any_sealed_secret(conn):
                raise SetupError("the server key does not match the one this database's "
                                 "secrets were sealed with: restore the original server.key "
                                 "or WEBHOOKS_SERVER_KEY")
            self.store.set_meta(conn, "server_key_id", self.box.key_id)

    def _upgrade(self, conn: Connection, step: int) -> None:
        """Data rewrites of schema steps: version 3 seals the URLs with credentials."""
        if step != 3:
            return
        known = self.store.get_meta(conn, "server_key_id")
        if known is not None and known != self.box.key_id:
            raise SetupError("the server key does not match the one this database's "
                             "secrets were sealed with: restore the original server.key "
                             "or WEBHOOKS_SERVER_KEY")
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # The clear URLs are overwritten, not left in the pages' free space.
            was = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        for pk, webhook_id, url in self.store.urls_with_at(conn):
            if url_has_credentials(url):
                self.store.set_url(conn, pk, url_values(self.box, webhook_id, url))
                self._sealed_on_upgrade = True
        for merchant_id, key, response in self.store.idempotency_records(conn):
            shown = response.get("url")
            if isinstance(shown, str) and url_has_credentials(shown):
                fixed = {**response, "url": redact_url(shown),
                         "url_fingerprint": url_fingerprint(shown)}
                self.store.set_idempotency_response(conn, merchant_id, key, fixed)
                self._sealed_on_upgrade = True
            elif "url_fingerprint" not in response:
                self.store.set_idempotency_response(
                    conn, merchant_id, key, {**response, "url_fingerprint": None})
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA secure_delete = {int(was or 0)}")

    def _seed_demo(self, conn: Connection) -> None:
        now = self._now()
        m = catalog.DEMO_MERCHANT_ID
        self.store.insert_merchant(conn, m, catalog.DEMO_MERCHANT_NAME, now)
        for code, store_name in catalog.DEMO_STORES:
            self.store.insert_store(conn, m, code, store_name)
        for terminal_id, code in catalog.DEMO_TERMINALS:
            self.store.insert_terminal(conn, m, terminal_id, code)
        for client_id, terminal_id in catalog.DEMO_CREDENTIALS:
            self.store.insert_credential(conn, m, client_id, terminal_id)

    # --- merchants and their catalogue -----------------------------------------------

    def _require_merchant(self, conn: Connection, merchant_id: str) -> None:
        if not self.store.merchant_exists(conn, merchant_id):
            raise NotFound(f"no merchant {merchant_id!r}")

    def create_merchant(self, merchant_id: str, name: str) -> None:
        merchant_id = rules.identifier("merchant id", merchant_id, rules.ID_RE)
        name = rules.description(name)
        with self.store.write() as conn:
            if self.store.merchant_exists(conn, merchant_id):
                raise Conflict(f"merchant {merchant_id!r} already exists")
            self.store.insert_merchant(conn, merchant_id, name, self._now())

    def add_store(self, merchant_id: str, code: str, name: str) -> None:
        code = rules.identifier("store code", code, rules.CODE_RE)
        with self.store.write() as conn:
            self._require_merchant(conn, merchant_id)
            if self.store.store_exists(conn, merchant_id, code):
                raise Conflict(f"store {code!r} already exists")
            self.store.insert_store(conn, merchant_id, code, rules.description(name))

    def add_terminal(self, merchant_id: str, terminal_id: str, store_code: str) -> None:
        terminal_id = rules.identifier("terminal id", terminal_id, rules.CODE_RE)
        with self.store.write() as conn:
            self._require_merchant(conn, merchant_id)
            if not self.store.store_exists(conn, merchant_id, store_code):
                raise NotFound(f"no store {store_code!r}")
            if self.store.terminal_store(conn, merchant_id, terminal_id) is not None:
                raise Conflict(f"terminal {terminal_id!r} already exists")
            self.store.insert_terminal(conn, merchant_id, terminal_id, store_code)

    def add_credential(self, merchant_id: str, client_id: str, terminal_id: str) -> None:
        client_id = rules.identifier("client id", client_id, rules.ID_RE)
        with self.store.write() as conn:
            self._require_merchant(conn, merchant_id)
            if self.store.terminal_store(conn, merchant_id, terminal_id) is None:
                raise NotFound(f"no terminal {terminal_id!r}")
            try:
                with conn.begin_nested():
                    self.store.insert_credential(conn, merchant_id, client_id, terminal_id)
            except IntegrityError:
                raise Conflict(f"credential {client_id!r} already exists") from None

    def catalog(self, merchant_id: str) -> dict[str, Any]:
        """Notification types and the merchant's stores, terminals and credentials."""
        with self.store.read() as conn:
            self._require_merchant(conn, merchant_id)
            return {
                "notification_types": [{"code": code, "label": label}
                                       for code, label in catalog.NOTIFICATION_TYPES.items()],
                "stores": [{"code": c, "name": n}
                           for c, n in self.store.stores(conn, merchant_id)],
                "terminals": [{"id": i, "store": s}
                              for i, s in self.store.terminals(conn, merchant_id)],
                "credentials": [{"client_id": c, "terminal": term}
                                for c, term in self.store.credentials(conn, merchant_id)],
            }

    # --- tokens ------------------------------------------------------------------------

    def create_token(self, merchant_id: str, scope: str) -> str:
        """A new token for ``merchant_id`` (``read`` or ``manage``); only its hash is kept."""
        full = auth.normalise_scope(scope)
        token = auth.new_token()
        with self.store.write() as conn:
            self._require_merchant(conn, merchant_id)
            self.store.insert_token(conn, auth.token_hash(token), merchant_id, full, self._now())
        return token

    def authenticate(self, token: str) -> auth.Principal:
        if not auth.looks_like_token(token):
            raise Unauthorized("the bearer token is not valid")
        with self.store.read() as conn:
            found = self.store.find_token(conn, auth.token_hash(token))
        if found is None:
            raise Unauthorized("the bearer token is not valid")
        merchant_id, scope = found
        return auth.Principal(merchant_id, auth.GRANTS.get(scope, frozenset()))

    def ping(self) -> None:
        """Raise when the database cannot be read (for health checks)."""
        with self.store.read() as conn:
            self.store.merchant_exists(conn, catalog.DEMO_MERCHANT_ID)

    def token_count(self) -> int:
        with self.store.read() as conn:
            return self.store.count_tokens(conn)

    # --- webhooks: reads ------------------------------------------------------------------

    def list_webhooks(self, merchant_id: str, *, credential: str | None = None,
                      notification: str | None = None, type: str | None = None,
                      webhook: str | None = None, limit: int = 100,
                      cursor: str | None = None) -> Page:
        """The Webhooks list with the Backoffice's four filters, page by page."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
        after = _decode_cursor(cursor) if cursor is not None else 0
        if notification is not None:
            notification = rules.notification_type("notification", notification)
        if type is not None:
            type = rules.webhook_type(type)
        if webhook is not None and len(webhook) > rules.MAX_SEARCH:
            raise Invalid(f"webhook is too long (at most {rules.MAX_SEARCH} characters)")
        with self.store.read() as conn:
            self._require_merchant(conn, merchant_id)
            covering = None
            if credential is not None:
                terminal_id = self.store.credential_terminal(conn, merchant_id, credential)
                store_code = (None if terminal_id is None
                              else self.store.terminal_store(conn, merchant_id, terminal_id))
                if terminal_id is None or store_code is None:
                    raise Invalid(f"credential {credential[:64]!r} is not one of this merchant's")
                covering = (terminal_id, store_code)
            records = self.store.list_webhooks(
                conn, merchant_id, after_pk=after, limit=limit + 1, covering=covering,
                notification=notification, type=type, text=webhook or None)
        more = len(records) > limit
        records = records[:limit]
        return Page([public(r) for r in records],
                    _encode_cursor(records[-1].pk) if more else None)

    def get_webhook(self, merchant_id: str, webhook_id: str) -> dict[str, Any]:
        return public(self._get(merchant_id, id=webhook_id))

    def find_webhook_by_name(self, merchant_id: str, name: str) -> dict[str, Any]:
        return public(self._get(merchant_id, name=name))

    def _get(self, merchant_id: str, *, id: str | None = None,
             name: str | None = None) -> WebhookRecord:
        with self.store.read() as conn:
            record = self.store.get_webhook(conn, merchant_id, id=id, name=name)
        if record is None:
            raise NotFound(_missing(id, name))
        return record

    def delivery_url(self, record: WebhookRecord) -> str | None:
        """The whole URL, credentials included, for deliveries only: never for a
        response or a log."""
        if record.url_sealed is None:
            return record.url
        return self.box.open(record.url_sealed, context=url_context(record.id))

    def webhook_secret(self, merchant_id: str, webhook_id: str) -> str | None:
        """The plain secret, for deliveries only: never for a response or a log."""
        record = self._get(merchant_id, id=webhook_id)
        if record.secret_sealed is None:
            return None
        return self.box.open(record.secret_sealed, context=record.id)

    # --- webhooks: writes -----------------------------------------------------------------

    def create_webhook(self, merchant_id: str, body: Mapping[str, Any], *,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """Create a webhook; a repeated ``idempotency_key`` with the same body replays."""
        rules.check_fields(body, rules.CREATE_FIELDS, required=rules.CREATE_REQUIRED)
        given = rules.parse_fields(body, allow_http_loopback=self.allow_http_loopback)
        if idempotency_key is not None:
            idempotency_key = rules.idempotency_key(idempotency_key)
        state: dict[str, Any] = {
            "url": None, "email": None, "support_email": None, "enabled": True,
            "description": "", "labels": {}, **given,
        }
        secret = state.pop("secret", None)
        if state["type"] == "url" and state.get("format") is None:
            state["format"] = "sibs"
        _check_shape(state, secret_given=secret is not None)
        if state["type"] == "url":
            if secret is None:
                secret = generate_secret(state["format"])
            elif problem := _secret_problem(state["format"], secret):
                raise Invalid(f"secret does not fit format {state['format']}: {problem}")
        request_hash = _request_hash(given)
        try:
            return self._create(merchant_id, state, secret, idempotency_key, request_hash)
        except IntegrityError:
            # A concurrent writer won a race the checks could not see (PostgreSQL):
            # the second look finds its idempotency record or its name.
            return self._create(merchant_id, state, secret, idempotency_key, request_hash)

    def _create(self, merchant_id: str, state: dict[str, Any], secret: str | None,
                key: str | None, request_hash: str) -> dict[str, Any]:
        moment = self.clock()
        now = iso(moment)
        with self.store.write() as conn:
            if key is not None:
                seen = self.store.get_idempotency(conn, merchant_id, key)
                if seen is not None:
                    if seen[0] != request_hash:
                        raise IdempotencyKeyReused(
                            "this Idempotency-Key was used with a different body: "
                            "use a new key for a new request")
                    return seen[1]
            self._require_merchant(conn, merchant_id)
            kind, ref = state["application"]
            self._check_application(conn, merchant_id, kind, ref)
            taken = self.store.get_webhook(conn, merchant_id, name=state["name"])
            if taken is not None:
                raise NameTaken(f"a webhook named {state['name']!r} already exists "
                                f"(id {taken.id})")
            webhook_id = "wh_" + secrets.token_hex(12)
            values = {
                "id": webhook_id, "merchant_id": merchant_id, "name": state["name"],
                "type": state["type"], **url_values(self.box, webhook_id, state["url"]),
                "email": state["email"],
                "app_kind": kind, "app_ref": ref, "support_email": state["support_email"],
                "format": state.get("format"), "enabled": state["enabled"],
                "description": state["description"], "labels": state["labels"],
                "secret_sealed": None if secret is None else self.box.seal(secret,
                                                                           context=webhook_id),
                "secret_fingerprint": None if secret is None else secret_fingerprint(secret),
                "version": 1, "created_at": now, "updated_at": now,
            }
            pk = self.store.insert_webhook(conn, values, state["notifications"])
            record = WebhookRecord(pk=pk, notifications=state["notifications"], **values)
            result = public(record)
            if key is not None:
                self.store.purge_idempotency(conn, iso(moment - IDEMPOTENCY_TTL))
                self.store.put_idempotency(conn, merchant_id, key, request_hash, result, now)
            return result

    def _check_application(self, conn: Connection, merchant_id: str, kind: str,
                           ref: str | None) -> None:
        if ref is None:
            return
        if kind == "store" and not self.store.store_exists(conn, merchant_id, ref):
            known = [code for code, _ in self.store.stores(conn, merchant_id)]
            raise Invalid(f"application names an unknown store {ref!r}"
                          + _known("stores", known))
        if kind == "terminal" and self.store.terminal_store(conn, merchant_id, ref) is None:
            known = [tid for tid, _ in self.store.terminals(conn, merchant_id)]
            raise Invalid(f"application names an unknown terminal {ref!r}"
                          + _known("terminals", known))

    def update_webhook(self, merchant_id: str, webhook_id: str, patch: Mapping[str, Any], *,
                       if_match: int | None = None) -> dict[str, Any]:
        """Change some fields; ``if_match`` guards against lost updates (412)."""
        rules.check_fields(patch, rules.PATCH_FIELDS, immutable=rules.IMMUTABLE_FIELDS)
        given = rules.parse_fields(patch, allow_http_loopback=self.allow_http_loopback)
        if "secret" in given and given["secret"] is None:
            raise Invalid("secret cannot be null: omit it to keep the current secret")
        with self.store.write() as conn:
            record = self._for_write(conn, merchant_id, webhook_id, if_match)
            before = public(record)
            before["application"] = (record.app_kind, record.app_ref)
            before["notifications"] = record.notifications
            secret = given.pop("secret", None)
            state = {**before, **given}
            _check_shape(state, secret_given=secret is not None)
            if "application" in given and given["application"] != before["application"]:
                self._check_application(conn, merchant_id, *given["application"])
            values: dict[str, Any] = {}
            if state["type"] == "url":
                values.update(self._secret_values(record, state["format"], secret))
            if "url" in given:
                values.update(self._url_change(record, given["url"]))
            kind, ref = state["application"]
            for field in ("email", "support_email", "format", "enabled",
                          "description", "labels"):
                if state[field] != before[field]:
                    values[field] = state[field]
            if (kind, ref) != before["application"]:
                values.update(app_kind=kind, app_ref=ref)
            notifications_changed = state["notifications"] != record.notifications
            if not values and not notifications_changed:
                return public(record)  # nothing changed: the version stays
            values.update(version=record.version + 1, updated_at=self._now())
            if not self.store.update_webhook(
                    conn, record.pk, record.version, values,
                    state["notifications"] if notifications_changed else None):
                raise PreconditionFailed("the webhook changed while this update ran; "
                                         "read it again and retry")
            updated = self.store.get_webhook(conn, merchant_id, id=webhook_id)
            assert updated is not None
            return public(updated)

    def _url_change(self, record: WebhookRecord, url: str | None) -> dict[str, Any]:
        """The URL columns to write, or none when ``url`` is the stored one."""
        if url is not None and url_has_credentials(url):
            same = (redact_url(url) == record.url
                    and url_fingerprint(url) == record.url_fingerprint)
        else:
            same = url == record.url and record.url_sealed is None
        return {} if same else url_values(self.box, record.id, url)

    def _secret_values(self, record: WebhookRecord, fmt: str,
                       secret: str | None) -> dict[str, Any]:
        """Seal a new secret; on a format change alone, check the kept secret still fits."""
        if secret is not None:
            if problem := _secret_problem(fmt, secret):
                raise Invalid(f"secret does not fit format {fmt}: {problem}")
            if secret_fingerprint(secret) == record.secret_fingerprint:
                return {}
            return {"secret_sealed": self.box.seal(secret, context=record.id),
                    "secret_fingerprint": secret_fingerprint(secret)}
        if fmt != record.format and record.secret_sealed is not None:
            kept = self.box.open(record.secret_sealed, context=record.id)
            if _secret_problem(fmt, kept):
                raise Invalid(f"the current secret does not fit format {fmt}: "
                              "send a new secret together with the format change")
        return {}

    def delete_webhook(self, merchant_id: str, webhook_id: str, *,
                       if_match: int | None = None) -> None:
        with self.store.write() as conn:
            record = self._for_write(conn, merchant_id, webhook_id, if_match)
            if not self.store.delete_webhook(conn, record.pk, record.version):
                raise PreconditionFailed("the webhook changed while this delete ran; "
                                         "read it again and retry")

    def _for_write(self, conn: Connection, merchant_id: str, webhook_id: str,
                   if_match: int | None) -> WebhookRecord:
        record = self.store.get_webhook(conn, merchant_id, id=webhook_id)
        if record is None:
            raise NotFound(_missing(webhook_id, None))
        if if_match is not None and if_match != record.version:
            raise PreconditionFailed(
                f"the webhook is at version {record.version}, not {if_match}: "
                "it changed since it was read; read it again and retry")
        return record

    # --- notifications and deliveries (backoffice.deliveries does the work) ---------------

    def test_webhook(self, merchant_id: str, webhook_id: str, *,
                     notification_type: str | None = None) -> dict[str, Any]:
        """Send one test notification to a URL webhook now; a TestResult dict."""
        return self.deliveries.test_webhook(merchant_id, webhook_id,
                                            notification_type=notification_type)

    def emit_notification(self, merchant_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A payment notification, fanned out as pending deliveries to its webhooks."""
        return self.deliveries.emit_notification(merchant_id, body)

    def list_deliveries(self, merchant_id: str, webhook_id: str, *,
                        limit: int = 20) -> list[dict[str, Any]]:
        """A webhook's deliveries, newest first."""
        return self.deliveries.list_deliveries(merchant_id, webhook_id, limit=limit)

    def deliver_due(self, *, now: datetime | None = None, limit: int = 100) -> int:
        """Attempt the deliveries that are due (the worker's step); returns how many."""
        return self.deliveries.deliver_due(now=now, limit=limit)

    def send_support_summaries(self, *, now: datetime | None = None,
                               force: bool = False) -> int:
        """Mail support addresses their webhooks' failures when the interval has passed."""
        return self.deliveries.send_support_summaries(now=now, force=force)


def office_url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


def _missing(webhook_id: str | None, name: str | None) -> str:
    if webhook_id is not None:
        return f"no webhook with id {webhook_id[:64]!r}"
    return f"no webhook named {str(name)[:64]!r}"


def _known(what: str, known: list[str]) -> str:
    if not known:
        return f" (this merchant has no {what})"
    shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    return f"; known {what}: {shown}"


def _data_dir(*, url_file: Path | None, data_dir: str | Path | None,
              env: Mapping[str, str]) -> Path | None:
    """``data_dir``, else ``WEBHOOKS_DATA_DIR``, else the SQLite file's directory."""
    if data_dir is None and env.get(ENV_DATA_DIR):
        data_dir = env[ENV_DATA_DIR]
    if data_dir is None and url_file is not None:
        data_dir = url_file.parent
    return None if data_dir is None else Path(data_dir)


def _server_key(data_dir: Path | None, *, backend: str, env: Mapping[str, str]) -> bytes:
    if data_dir is None and backend == "sqlite" and not env.get("WEBHOOKS_SERVER_KEY"):
        # A memory database dies with the process, and its key may die with it.
        return os.urandom(32)
    return load_server_key(data_dir, env)

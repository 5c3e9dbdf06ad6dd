"""Webhooks: the list with its filters, reads, and the writes with every rule they obey.

The API and the embedded provider both call this part, so the rules (validation,
tenancy, idempotency, versions) hold for either; the API only translates HTTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from backoffice import applied, audit, auth, cursors, rotation, rules
from backoffice.clock import Clock, iso
from backoffice.db import merchant_queries as mq
from backoffice.db import webhook_queries as q
from backoffice.db.engine import Database
from backoffice.db.webhook_queries import WebhookRecord
from backoffice.errors import (
    Invalid,
    NameTaken,
    NotFound,
    PreconditionFailed,
)
from backoffice.idempotency import IdempotencyRecords, request_hash
from backoffice.merchants import check_application
from backoffice.sealing import Sealing
from backoffice.webhook_pages import PageCache, covering, list_filters, public, public_rows
from contract import formats
from contract.fingerprints import Fingerprints
from contract.formats import secret_problem as _secret_problem
from contract.secrets import DEFAULT_GRACE_S, is_weak, weak_problem
from contract.urls import has_credentials as url_has_credentials
from contract.urls import redact_url

# Stored columns -> the field they hold, as the audit log names what changed ("": a
# column kept along with another, not a field of its own).
_FIELD_OF: Final = {"secret_sealed": "secret", "secret_fingerprint": "secret",
                    "url_sealed": "url", "url_fingerprint": "url",
                    "app_kind": "application", "app_ref": "application",
                    "secret_weak": "", "previous_secret_sealed": "",
                    "previous_secret_fingerprint": "", "previous_secret_until": "",
                    "secret_acknowledged": ""}


@dataclass(frozen=True)
class Page:
    """One page of the Webhooks list; ``next_cursor`` is None on the last page."""

    data: list[dict[str, Any]]
    next_cursor: str | None


class Webhooks:
    """The merchants' webhooks: list, get, create, update, delete."""

    def __init__(self, db: Database, sealing: Sealing, *, clock: Clock,
                 allow_http_loopback: bool = True, allow_private_targets: bool = False) -> None:
        self.db = db
        self.sealing = sealing
        self.clock = clock
        self.allow_http_loopback = allow_http_loopback
        # False: a URL whose host is a literal private address is refused (SSRF guard).
        self.allow_private_targets = allow_private_targets
        self.pages = PageCache()
        self.idempotency = IdempotencyRecords()

    def policy(self) -> dict[str, str]:
        """What this backoffice accepts beyond the rules every backoffice applies, for
        clients to check a config against (``GET /v1/catalog``'s ``policy``)."""
        return {"private_targets": "allowed" if self.allow_private_targets else "refused"}

    # --- reads ----------------------------------------------------------------------------

    def list_webhooks(self, merchant_id: str, *, credential: str | None = None,
                      notification: str | None = None, type: str | None = None,
                      webhook: str | None = None, limit: int = 100,
                      cursor: str | None = None) -> Page:
        """The Webhooks list with the Backoffice's four filters, page by page."""
        filters = list_filters(notification, type, webhook, limit, cursor)
        with self.db.read() as conn:
            covers = covering(conn, merchant_id, credential)
            rows = q.list_webhooks(conn, merchant_id, covering=covers, **filters)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(public_rows(rows, iso(self.clock())),
                    cursors.encode("v1", rows[-1][0]) if more else None)

    def list_json(self, merchant_id: str, *, credential: str | None = None,
                  notification: str | None = None, type: str | None = None,
                  webhook: str | None = None, limit: int = 100,
                  cursor: str | None = None) -> bytes:
        """The page ``list_webhooks`` returns, as the API's JSON bytes (``PageCache``)."""
        filters = list_filters(notification, type, webhook, limit, cursor)
        with self.db.read() as conn:
            covers = covering(conn, merchant_id, credential)
            versions = q.list_versions(conn, merchant_id, covering=covers, **filters)
            more = len(versions) > limit
            versions = versions[:limit]
            return self.pages.page(conn, merchant_id, versions,
                                   cursors.encode("v1", versions[-1][0]) if more else None,
                                   now=iso(self.clock()),
                                   query=(merchant_id, credential, notification, type,
                                          webhook, limit, cursor))

    def list_versions(self, merchant_id: str, *, credential: str | None = None,
                      notification: str | None = None, type: str | None = None,
                      webhook: str | None = None, limit: int = 100,
                      cursor: str | None = None) -> tuple[list[tuple[int, str, int]],
                                                          str | None]:
        """The page ``list_webhooks`` returns as (pk, id, version) rows, and its next
        cursor: for a caller that keeps what it made of each version (the web pages)."""
        filters = list_filters(notification, type, webhook, limit, cursor)
        with self.db.read() as conn:
            covers = covering(conn, merchant_id, credential)
            versions = q.list_versions(conn, merchant_id, covering=covers, **filters)
        more = len(versions) > limit
        rows = versions[:limit]  # (int, str, int) tuples as the driver gives them
        return rows, cursors.encode("v1", rows[-1][0]) if more else None

    def webhooks_by_pk(self, merchant_id: str, pks: list[int]) -> dict[int, dict[str, Any]]:
        """The merchant's webhooks of these keys (those that still exist), as
        ``list_webhooks`` shows them."""
        with self.db.read() as conn:
            rows = q.page_rows(conn, merchant_id, pks)
        return {int(row[0]): body for row, body in zip(rows, public_rows(rows, iso(self.clock())),
                                                         strict=True)}

    def get_webhook(self, merchant_id: str, webhook_id: str) -> dict[str, Any]:
        return public(self._get(merchant_id, id=webhook_id), iso(self.clock()))

    def find_webhook_by_name(self, merchant_id: str, name: str) -> dict[str, Any]:
        return public(self._get(merchant_id, name=name), iso(self.clock()))

    def _get(self, merchant_id: str, *, id: str | None = None,
             name: str | None = None) -> WebhookRecord:
        with self.db.read() as conn:
            record = q.get_webhook(conn, merchant_id, id=id, name=name)
        if record is None:
            raise NotFound(_missing(id, name))
        return record

    def webhook_secret(self, merchant_id: str, webhook_id: str) -> str | None:
        """The plain secret of one webhook: for checks of what was sealed, never for a
        response or a log (deliveries open it from the record they already hold)."""
        return self.sealing.webhook_secret(self._get(merchant_id, id=webhook_id))

    # --- writes ---------------------------------------------------------------------------

    def create_webhook(self, merchant_id: str, body: Mapping[str, Any], *,
                       idempotency_key: str | None = None,
                       actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """Create a webhook; a repeated ``idempotency_key`` with the same body replays.
        ``actor``: who asks, for the audit log (a replay writes nothing, records nothing)."""
        rules.check_fields(body, rules.CREATE_FIELDS, required=rules.CREATE_REQUIRED)
        given = rules.parse_fields(body, allow_http_loopback=self.allow_http_loopback,
                                   allow_private_targets=self.allow_private_targets)
        if idempotency_key is not None:
            idempotency_key = rules.idempotency_key(idempotency_key)
        state: dict[str, Any] = {
            "url": None, "email": None, "support_email": None, "enabled": True,
            "description": "", "labels": {}, **given,
        }
        secret = state.pop("secret", None)
        last_applied = state.pop("applied", None)
        if state["type"] == "url" and state.get("format") is None:
            state["format"] = "sibs"
        rules.check_shape(state, secret_given=secret is not None)
        if state["type"] == "url":
            if secret is None:
                secret = formats.get(state["format"]).generate_secret()
            elif problem := _secret_problem(state["format"], secret):
                raise Invalid(f"secret does not fit format {state['format']}: {problem}")
            elif problem := weak_problem(state["format"], secret):
                raise Invalid(f"secret is refused: {problem}")
        entry = (actor, [*given, *(["secret"] if secret is not None else [])])
        try:
            return self._create(merchant_id, state, secret, idempotency_key, given, entry,
                                last_applied, name_checked=False)
        except IntegrityError:
            # The name is taken (the insert's unique constraint said so: one statement
            # fewer than asking first), or a concurrent writer won a race the checks
            # could not see (PostgreSQL): the second look finds its idempotency record,
            # or the webhook holding the name.
            return self._create(merchant_id, state, secret, idempotency_key, given, entry,
                                last_applied, name_checked=True)

    def _create(self, merchant_id: str, state: dict[str, Any], secret: str | None,
                key: str | None, given: Mapping[str, Any], entry: tuple[auth.Actor, list[str]],
                last_applied: dict[str, str | None] | None, *,
                name_checked: bool) -> dict[str, Any]:
        """One attempt; ``name_checked``: look for a webhook of the name before the insert
        (NameTaken, naming it), else leave it to the unique constraint."""
        moment = self.clock()
        now = iso(moment)
        # Everything that needs no database is made before the write transaction, which
        # then holds the database's write lock only for the reads and writes themselves.
        fingerprints = self.sealing.kept_fingerprints(merchant_id)
        if fingerprints is None:  # the first write for this merchant in this process
            with self.db.read() as conn:
                fingerprints = self.sealing.fingerprints(conn, merchant_id)  # or NotFound
        hashed = request_hash(given, fingerprints)
        values = self._new_row(merchant_id, state, secret, fingerprints, now)
        if last_applied is not None:
            created = WebhookRecord(pk=0, notifications=state["notifications"], **values)
            values.update(applied.columns(last_applied, public(created, now), now))
        result = public(WebhookRecord(pk=0, notifications=state["notifications"], **values),
                        now)
        with self.db.write() as conn:
            mq.lock_merchant(conn, merchant_id)
            if key is not None and (replay := self.idempotency.replay(
                    conn, merchant_id, key, hashed, moment)) is not None:
                return replay
            # The merchant exists: its fingerprint key was read (NotFound if not), and
            # merchants are never deleted.
            check_application(conn, merchant_id, values["app_kind"], values["app_ref"])
            taken = q.id_of_name(conn, merchant_id, state["name"]) if name_checked else None
            if taken is not None:
                raise NameTaken(f"a webhook named {state['name']!r} already exists "
                                f"(id {taken})")
            q.insert_webhook(conn, values, state["notifications"])
            if key is not None:
                self.idempotency.remember(conn, merchant_id, key, hashed, result, moment)
            audit.record(conn, entry[0], merchant_id, audit.WEBHOOK_CREATE, at=moment,
                         status=201, target_id=values["id"], target_name=state["name"],
                         fields=entry[1])
            return result

    def _new_row(self, merchant_id: str, state: Mapping[str, Any], secret: str | None,
                 fingerprints: Fingerprints, now: str) -> dict[str, Any]:
        """A new webhook's row, with a new id, its secret and any URL credentials sealed."""
        webhook_id = "wh_" + secrets.token_hex(12)
        kind, ref = state["application"]
        return {
            "id": webhook_id, "merchant_id": merchant_id, "name": state["name"],
            "type": state["type"],
            **self.sealing.url_values(webhook_id, state["url"], fingerprints),
            "email": state["email"],
            "app_kind": kind, "app_ref": ref, "support_email": state["support_email"],
            "format": state.get("format"), "enabled": state["enabled"],
            "description": state["description"], "labels": state["labels"],
            "secret_sealed": (None if secret is None
                              else self.sealing.seal_secret(webhook_id, secret)),
            "secret_fingerprint": None if secret is None else fingerprints.secret(secret),
            "secret_weak": None if secret is None else False, **rotation.NO_PREVIOUS,
            "version": 1, "created_at": now, "updated_at": now,
            **dict.fromkeys(applied.COLUMNS),
        }

    def update_webhook(self, merchant_id: str, webhook_id: str, patch: Mapping[str, Any], *,
                       if_match: int | None = None,
                       actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """Change some fields; ``if_match`` guards against lost updates (412).

        A new ``name`` renames the webhook (it keeps its id, secret and deliveries); a new
        ``secret`` keeps the replaced one valid for ``secret_grace_seconds`` (``rotation``).
        """
        rules.check_fields(patch, rules.PATCH_FIELDS, immutable=rules.IMMUTABLE_FIELDS)
        given = rules.parse_fields(patch, allow_http_loopback=self.allow_http_loopback,
                                   allow_private_targets=self.allow_private_targets)
        if "secret" in given and given["secret"] is None:
            raise Invalid("secret cannot be null: omit it to keep the current secret")
        grace = given.pop("secret_grace_seconds", None)
        if grace is not None and "secret" not in given:
            raise Invalid("secret_grace_seconds goes with a new secret: it says how long "
                          "the one it replaces stays valid")
        new_name = given.pop("name", None)
        try:
            return self._update(merchant_id, webhook_id, given, new_name,
                                DEFAULT_GRACE_S if grace is None else grace, if_match, actor)
        except IntegrityError:  # a concurrent rename took the name first (PostgreSQL)
            raise NameTaken(f"a webhook named {new_name!r} already exists") from None

    def _update(self, merchant_id: str, webhook_id: str, given: dict[str, Any],
                new_name: str | None, grace_s: int, if_match: int | None,
                actor: auth.Actor) -> dict[str, Any]:
        moment = self.clock()
        now = iso(moment)
        with self.db.write() as conn:
            record = _for_write(conn, merchant_id, webhook_id, if_match)
            before = public(record, now)
            before["application"] = (record.app_kind, record.app_ref)
            before["notifications"] = record.notifications
            secret = given.pop("secret", None)
            last_applied = given.pop("applied", None)
            state = {**before, **given}
            rules.check_shape(state, secret_given=secret is not None)
            if "application" in given and given["application"] != before["application"]:
                check_application(conn, merchant_id, *given["application"])
            values: dict[str, Any] = {}
            fingerprints = (self.sealing.fingerprints(conn, merchant_id)
                            if secret is not None or "url" in given else None)
            if new_name is not None and new_name != record.name:
                taken = q.get_webhook(conn, merchant_id, name=new_name)
                if taken is not None:
                    raise NameTaken(f"a webhook named {new_name!r} already exists "
                                    f"(id {taken.id})")
                values["name"] = new_name
            if state["type"] == "url":
                values.update(self._secret_values(record, state["format"], secret,
                                                  fingerprints, grace_s, moment))
            if "url" in given:
                assert fingerprints is not None
                values.update(self._url_change(record, given["url"], fingerprints))
            kind, ref = state["application"]
            for field in ("email", "support_email", "format", "enabled",
                          "description", "labels"):
                if state[field] != before[field]:
                    values[field] = state[field]
            if (kind, ref) != before["application"]:
                values.update(app_kind=kind, app_ref=ref)
            notifications_changed = state["notifications"] != record.notifications
            if not values and not notifications_changed and last_applied is None:
                return public(record, now)  # nothing changed: the version stays
            changed = [field for column in values
                       if (field := _FIELD_OF.get(column, column))]
            values.update(version=record.version + 1, updated_at=now)
            if last_applied is not None:  # recorded over the webhook as this write leaves it
                after = record._replace(
                    **{k: v for k, v in values.items() if k in WebhookRecord._fields},
                    notifications=state["notifications"])
                values.update(applied.columns(last_applied, public(after, now), now))
            if not q.update_webhook(
                    conn, record.pk, record.version, values,
                    state["notifications"] if notifications_changed else None):
                raise PreconditionFailed("the webhook changed while this update ran; "
                                         "read it again and retry")
            updated = q.get_webhook(conn, merchant_id, id=webhook_id)
            assert updated is not None
            audit.record(conn, actor, merchant_id, audit.WEBHOOK_UPDATE, at=moment, status=200,
                         target_id=webhook_id, target_name=record.name,
                         fields=[*changed, *(["notifications"] if notifications_changed
                                             else [])])
            return public(updated, now)

    def rotate_secret(self, merchant_id: str, webhook_id: str, *,
                      grace_seconds: int | None = None,
                      if_match: int | None = None,
                      actor: auth.Actor = auth.LOCAL_OPERATOR) -> dict[str, Any]:
        """Replace a URL webhook's secret with a new generated one, keeping the old one
        valid for the grace (``rotation``); the webhook afterwards (its new fingerprint)."""
        record = self._get(merchant_id, id=webhook_id)
        if record.type != "url" or record.format is None:
            raise Invalid("an e-mail webhook has no secret to rotate")
        body: dict[str, Any] = {"secret": formats.get(record.format).generate_secret()}
        if grace_seconds is not None:
            body["secret_grace_seconds"] = grace_seconds
        # The version read here: a format changed in between fails with 412, not a
        # secret of the wrong format.
        return self.update_webhook(merchant_id, webhook_id, body,
                                   if_match=record.version if if_match is None else if_match,
                                   actor=actor)

    def forget_expired_secrets(self) -> int:
        """Drop the previous secrets whose grace has ended (the worker calls this)."""
        with self.db.write() as conn:
            return q.forget_expired_secrets(conn, iso(self.clock()))

    def _url_change(self, record: WebhookRecord, url: str | None,
                    fingerprints: Fingerprints) -> dict[str, Any]:
        """The URL columns to write, or none when ``url`` is the stored one."""
        if url is not None and url_has_credentials(url):
            same = (redact_url(url) == record.url
                    and fingerprints.url(url) == record.url_fingerprint)
        else:
            same = url == record.url and record.url_sealed is None
        return {} if same else self.sealing.url_values(record.id, url, fingerprints)

    def _secret_values(self, record: WebhookRecord, fmt: str, secret: str | None,
                       fingerprints: Fingerprints | None, grace_s: int,
                       moment: datetime) -> dict[str, Any]:
        """Seal a new secret, keeping the replaced one for the grace; on a format change
        alone, check the kept secret still fits (and end any grace: the previous secret
        is of the old format)."""
        if secret is not None:
            assert fingerprints is not None
            if problem := _secret_problem(fmt, secret):
                raise Invalid(f"secret does not fit format {fmt}: {problem}")
            fingerprint = fingerprints.secret(secret)
            if fingerprint == record.secret_fingerprint and fmt == record.format:
                return {}  # the secret it has: not a new one, so not judged again
            if problem := weak_problem(fmt, secret):
                raise Invalid(f"secret is refused: {problem}")
            return rotation.rotated(self.sealing, record, secret=secret,
                                    fingerprint=fingerprint, new_format=fmt,
                                    grace_s=grace_s, moment=moment)
        if fmt != record.format and record.secret_sealed is not None:
            kept = self.sealing.open_secret(record.id, record.secret_sealed)
            if _secret_problem(fmt, kept):
                raise Invalid(f"the current secret does not fit format {fmt}: "
                              "send a new secret together with the format change")
            return {**rotation.NO_PREVIOUS, "secret_weak": is_weak(fmt, kept)}
        return {}

    def delete_webhook(self, merchant_id: str, webhook_id: str, *,
                       if_match: int | None = None,
                       actor: auth.Actor = auth.LOCAL_OPERATOR) -> None:
        with self.db.write() as conn:
            record = _for_write(conn, merchant_id, webhook_id, if_match)
            if not q.delete_webhook(conn, record.pk, record.version):
                raise PreconditionFailed("the webhook changed while this delete ran; "
                                         "read it again and retry")
            audit.record(conn, actor, merchant_id, audit.WEBHOOK_DELETE, at=self.clock(),
                         status=204, target_id=webhook_id, target_name=record.name)


def _for_write(conn: Connection, merchant_id: str, webhook_id: str,
               if_match: int | None) -> WebhookRecord:
    q.lock_webhook(conn, merchant_id, webhook_id)  # then read it as it is now
    record = q.get_webhook(conn, merchant_id, id=webhook_id)
    if record is None:
        raise NotFound(_missing(webhook_id, None))
    if if_match is not None and if_match != record.version:
        raise PreconditionFailed(
            f"the webhook is at version {record.version}, not {if_match}: "
            "it changed since it was read; read it again and retry")
    return record


def _missing(webhook_id: str | None, name: str | None) -> str:
    if webhook_id is not None:
        return f"no webhook with id {webhook_id[:64]!r}"
    return f"no webhook named {str(name)[:64]!r}"

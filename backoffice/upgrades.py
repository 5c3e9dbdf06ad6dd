"""The data rewrites of schema upgrades (``migrations.migrate`` runs them as
``on_upgrade``, in the upgrade's one transaction).

Version 5 gives every token made before it a public id and a name (they keep working,
unexpiring).

Version 3 added ``url_sealed`` and ``url_fingerprint``; version 6 added each merchant's
fingerprint key. The rewrite for both is version 6's, which runs whenever version 3's
does (an upgrade always goes to the current version in one transaction):

- every merchant without a fingerprint key gets one (random, sealed);
- every URL with credentials still in clear (a password from before version 3, a query
  string from before version 6) is sealed, and every sealed URL is shown in ``url`` as
  redacted today (a query string beside a password was shown in clear before);
- every stored fingerprint (``secret_fingerprint``, ``url_fingerprint``) is recomputed
  as the keyed HMAC of ``contract.fingerprints`` from the value it stands for;
- each idempotency record (a create's answer, replayed for 24 hours) gets the new
  fingerprints and the redacted URL when it provably describes its webhook as it is now
  (its old fingerprints match the webhook's values); else it is dropped, so a retry of
  that create meets its webhook by name (409). A kept record's request hash cannot be
  recomputed (the body held the secret): it is emptied, and such a record is replayed
  on its key alone.

Version 7 added a secret's rotation and ``secret_weak``: every stored secret is marked
weak or not (``contract.secrets``, so plans can warn about it), and each idempotency
record gets the fields the API now shows (no rotation: none can have been). It runs after
version 6's rewrite and reads nothing version 6 leaves for later.

On SQLite the rewritten rows are overwritten in place (``secure_delete``), and the
caller empties the WAL afterwards, so no clear URL is left in the file.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from sqlalchemy import Connection

from backoffice import auth
from backoffice.db import merchant_queries as mq
from backoffice.db import token_queries as tq
from backoffice.db import webhook_queries as wq
from backoffice.db.meta import get_meta
from backoffice.errors import SetupError
from backoffice.rotation import public_fields
from backoffice.sealing import Sealing, url_context
from contract import formats
from contract.secrets import is_weak
from contract.urls import has_credentials, redact_url

TOKEN_STEP: Final = 5
FINGERPRINT_STEP: Final = 6
ROTATION_STEP: Final = 7
BATCH: Final = 500
WRONG_KEY: Final = ("the server key does not match the one this database's "
                    "secrets were sealed with: restore the original server.key "
                    "or WEBHOOKS_SERVER_KEY")


def legacy_secret_fingerprint(secret: str) -> str:
    """The unkeyed fingerprint before version 6: only to recognise stored values."""
    digest = hashlib.sha256(b"webhooks-reconciler/secret/v1\x00" + secret.encode("utf-8"))
    return "sha256:" + digest.hexdigest()[:16]


def legacy_url_fingerprint(url: str) -> str:
    """The PBKDF2 fingerprint before version 6: only to recognise stored values."""
    digest = hashlib.pbkdf2_hmac("sha256", url.encode("utf-8"),
                                 b"webhooks-reconciler/url/v1", 20_000)
    return "sha256:" + digest.hex()[:16]


class Upgrade:
    """``on_upgrade(conn, step)``; ``sealed`` says whether values in clear were rewritten
    (the WAL then gets emptied)."""

    def __init__(self, sealing: Sealing) -> None:
        self.sealing = sealing
        self.sealed = False

    def __call__(self, conn: Connection, step: int) -> None:
        if step == TOKEN_STEP:
            _identify_tokens(conn)
        if step not in (FINGERPRINT_STEP, ROTATION_STEP):
            return
        known = get_meta(conn, "server_key_id")
        if (known is not None and known not in self.sealing.box.ring.ids
                and wq.any_sealed_secret(conn)):
            raise SetupError(WRONG_KEY)
        if step == ROTATION_STEP:
            self._mark_weak_secrets(conn)
            return
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # The clear values are overwritten, not left in the pages' free space.
            was = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        for merchant_id, sealed in mq.fingerprint_keys(conn):
            if sealed is None:
                mq.set_fingerprint_key(conn, merchant_id,
                                       self.sealing.new_fingerprint_key(merchant_id))
        self._webhooks(conn)
        self._idempotency(conn)
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA secure_delete = {int(was or 0)}")

    def _webhooks(self, conn: Connection) -> None:
        after = 0
        while batch := wq.url_webhooks(conn, after, BATCH):
            for pk, webhook_id, merchant_id, url, url_sealed, secret_sealed in batch:
                fingerprints = self.sealing.fingerprints(conn, merchant_id)
                values: dict[str, Any] = {}
                if url_sealed is not None:
                    whole = self.sealing.box.open(url_sealed, context=url_context(webhook_id))
                    # shown as now redacted: a query stayed in clear before version 6
                    values.update(url=redact_url(whole), url_fingerprint=fingerprints.url(whole))
                    self.sealed = self.sealed or redact_url(whole) != url
                elif url is not None and has_credentials(url):
                    values.update(self.sealing.url_values(webhook_id, url, fingerprints))
                    self.sealed = True
                if secret_sealed is not None:
                    secret = self.sealing.open_secret(webhook_id, secret_sealed)
                    values["secret_fingerprint"] = fingerprints.secret(secret)
                if values:
                    wq.set_columns(conn, pk, values)
            after = batch[-1][0]

    def _mark_weak_secrets(self, conn: Connection) -> None:
        for pk, webhook_id, fmt, sealed in wq.sealed_secrets(conn):
            secret = self.sealing.open_secret(webhook_id, sealed)
            wq.set_secret_weak(conn, pk, is_weak(fmt or formats.DEFAULT, secret))
        # A replayed create answers as the API does now (no rotation: none can have been).
        for merchant_id, key, response in wq.idempotency_records(conn):
            if "secret_weak" not in response:
                wq.set_idempotency_response(conn, merchant_id, key, {
                    **response, **public_fields(response.get("format"), False, None, None,
                                                None, "")})

    def _idempotency(self, conn: Connection) -> None:
        for merchant_id, key, response in wq.idempotency_records(conn):
            fixed = self._replayable(conn, merchant_id, response)
            if fixed is None:
                wq.delete_idempotency(conn, merchant_id, key)
            else:
                wq.set_idempotency_response(conn, merchant_id, key, fixed, "")
            shown = response.get("url")
            if isinstance(shown, str) and has_credentials(shown):
                self.sealed = True

    def _replayable(self, conn: Connection, merchant_id: str,
                    response: dict[str, Any]) -> dict[str, Any] | None:
        """The stored answer with keyed fingerprints and its URL redacted, or None when
        it no longer provably describes its webhook."""
        record = wq.webhook_for_upgrade(conn, merchant_id, str(response.get("id")))
        if record is None:
            return None
        fingerprints = self.sealing.fingerprints(conn, merchant_id)
        whole = self.sealing.delivery_url(record)
        fixed = dict(response)
        shown, fingerprint = response.get("url"), response.get("url_fingerprint")
        if isinstance(shown, str) and has_credentials(shown):
            if fingerprint is None:  # whole in the answer (from before version 3)
                fixed["url"], fixed["url_fingerprint"] = redact_url(shown), fingerprints.url(shown)
            elif whole is not None and legacy_url_fingerprint(whole) == fingerprint:
                fixed["url"], fixed["url_fingerprint"] = redact_url(whole), fingerprints.url(whole)
            else:
                return None
        else:
            fixed["url_fingerprint"] = None
        old_secret = response.get("secret_fingerprint")
        if old_secret is not None:
            secret = self.sealing.webhook_secret(record)
            if secret is None or legacy_secret_fingerprint(secret) != old_secret:
                return None
            fixed["secret_fingerprint"] = fingerprints.secret(secret)
        return fixed


def _identify_tokens(conn: Connection) -> None:
    """Give every token made before version 5 a public id and the name a token made
    without one gets (its scope and day); they keep working as they did, unexpiring."""
    for token_hash, scope, created_at in tq.tokens_without_id(conn):
        tq.set_identity(conn, token_hash, auth.new_token_id(),
                        auth.default_token_name(scope, created_at))

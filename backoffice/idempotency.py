"""The Idempotency-Key records of creates: a repeated key with the same body replays the
first answer; with another body it is refused (422).

A record is kept 24 hours (``TTL``). Creates delete the expired ones at most once a
minute per process (``PURGE_EVERY``: one statement fewer for the others), and a record
found expired before then counts as absent (and the purge runs at once, so its key can
be stored again).

The request hash is SHA-256 of the checked body with sets sorted, so equal requests
hash equal. The secret, and a URL with credentials, enter as their (keyed) fingerprints
(the URL with its redaction): a record then holds nothing derived from them that the
API does not already show. An empty stored hash marks a record made before schema
version 6, whose hash cannot be recomputed: it is replayed on its key alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection

from backoffice.clock import iso
from backoffice.db import webhook_queries as q
from backoffice.errors import IdempotencyKeyReused
from contract.fingerprints import Fingerprints
from contract.urls import has_credentials, redact_url

TTL: Final = timedelta(hours=24)
PURGE_EVERY: Final = timedelta(minutes=1)


def request_hash(given: Mapping[str, Any], fingerprints: Fingerprints) -> str:
    """The hash a record keeps of the checked body ``given`` (see the module)."""
    canonical = dict(given)
    if isinstance(canonical.get("secret"), str):
        canonical["secret"] = fingerprints.secret(canonical["secret"])
    url = canonical.get("url")
    if isinstance(url, str) and has_credentials(url):
        canonical["url"] = [redact_url(url), fingerprints.url(url)]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class IdempotencyRecords:
    """Reading and keeping the records, inside a create's write transaction."""

    def __init__(self) -> None:
        self._purged: datetime | None = None  # when this process last purged (clock time)

    def replay(self, conn: Connection, merchant_id: str, key: str, hashed: str,
               moment: datetime) -> dict[str, Any] | None:
        """The first answer to this key, if it is kept and unexpired (None otherwise);
        IdempotencyKeyReused when the key came with another body."""
        seen = q.get_idempotency(conn, merchant_id, key)
        if seen is None:
            return None
        stored_hash, answer, created_at = seen
        if created_at < iso(moment - TTL):
            self._purge(conn, moment, due=True)  # expired: as if never given
            return None
        if stored_hash and stored_hash != hashed:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different body: "
                                       "use a new key for a new request")
        return answer

    def remember(self, conn: Connection, merchant_id: str, key: str, hashed: str,
                 answer: dict[str, Any], moment: datetime) -> None:
        """Keep ``answer`` under the key (purging the expired records when it is time)."""
        self._purge(conn, moment)
        q.put_idempotency(conn, merchant_id, key, hashed, answer, iso(moment))

    def _purge(self, conn: Connection, moment: datetime, *, due: bool = False) -> None:
        if due or self._purged is None or not (
                timedelta(0) <= moment - self._purged < PURGE_EVERY):
            q.purge_idempotency(conn, iso(moment - TTL))
            self._purged = moment

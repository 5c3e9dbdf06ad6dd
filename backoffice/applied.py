"""The last-applied record of a webhook: what ``webhooks apply`` last asked for, and the
webhook as that apply left it (schema version 9, the ``applied_*`` columns).

A create or a PATCH may carry ``applied: {digest, revision, owner}``: the digest of the
spec the tool applied, the git revision of its config (or null), and the config's owner.
The backoffice keeps them with the moment and a snapshot of the webhook as the write left
it (``STATE_FIELDS``: the secret only as its fingerprint, a URL with credentials only
redacted, as every response shows them). A later change made without ``applied`` (by
hand, by another tool) leaves the record alone, so a plan can tell what changed outside
the config since the last apply: the live webhook against this snapshot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from backoffice.errors import Invalid
from contract import rules as contract

APPLIED_KEYS: Final = frozenset({"digest", "revision", "owner"})
DIGEST_RE: Final = re.compile(r"sha256:[0-9a-f]{64}")
# A git commit (SHA-1 or SHA-256, abbreviated or not), "-dirty" when the file had changes
REVISION_RE: Final = re.compile(r"[0-9a-f]{7,64}(?:-dirty)?")
# The webhook's fields the snapshot keeps: what a config says, and the labels
STATE_FIELDS: Final = ("type", "url", "url_fingerprint", "email", "application",
                       "notifications", "support_email", "format", "enabled", "description",
                       "secret_fingerprint", "labels")
COLUMNS: Final = ("applied_digest", "applied_revision", "applied_owner", "applied_at",
                  "applied_state")


def parse(value: object) -> dict[str, str | None]:
    """The ``applied`` field of a request, checked: ``{digest, revision, owner}``."""
    if not isinstance(value, Mapping):
        raise Invalid("applied must be an object: {digest, revision, owner}")
    unknown = sorted(str(k)[:40] for k in value if k not in APPLIED_KEYS)
    if unknown:
        raise Invalid(f"applied has unknown field {unknown[0]!r}; "
                      "its fields are digest, revision and owner")
    digest, revision, owner = value.get("digest"), value.get("revision"), value.get("owner")
    if not isinstance(digest, str) or DIGEST_RE.fullmatch(digest) is None:
        raise Invalid("applied.digest must be 'sha256:' and 64 lower-case hex digits")
    if revision is not None and (not isinstance(revision, str)
                                 or REVISION_RE.fullmatch(revision) is None):
        raise Invalid("applied.revision must be a git commit (7 to 64 hex digits, "
                      "'-dirty' allowed) or null")
    if not isinstance(owner, str) or not contract.is_name(owner):
        raise Invalid(f"applied.owner must be {contract.NAME_RULE}")
    return {"digest": digest, "revision": revision, "owner": owner}


def columns(applied: Mapping[str, str | None], body: Mapping[str, Any],
            now: str) -> dict[str, Any]:
    """The ``applied_*`` column values recording ``applied`` over the webhook ``body``
    (its public form after the write)."""
    state = {name: body[name] for name in STATE_FIELDS}
    return {
        "applied_digest": applied["digest"], "applied_revision": applied["revision"],
        "applied_owner": applied["owner"], "applied_at": now,
        "applied_state": json.dumps(state, sort_keys=True, separators=(",", ":"),
                                    ensure_ascii=False),
    }


def public(digest: str | None, revision: str | None, owner: str | None, at: str | None,
           state: str | None) -> dict[str, Any] | None:
    """The record as the API returns it (``applied`` of a webhook), or None."""
    if digest is None or state is None:
        return None
    return {"digest": digest, "revision": revision, "owner": owner, "at": at,
            "state": json.loads(state)}

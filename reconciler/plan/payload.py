"""What apply sends: request bodies built from a change's spec (the only place with values)."""

from __future__ import annotations

import hashlib
from typing import Any

from contract.fingerprints import Fingerprints
from reconciler.model import WebhookSpec
from reconciler.plan.changes import Change
from reconciler.plan.normalize import actual_state, desired_labels, desired_state

LABEL_FIELDS = frozenset({"prevent_destroy", "managed_by", "owner"})
PATCHABLE = ("url", "email", "application", "notifications", "support_email", "format",
             "enabled", "description")


def create_body(spec: WebhookSpec, owner: str) -> dict[str, Any]:
    """The POST body that creates ``spec`` (secret included when the config gives one)."""
    body: dict[str, Any] = {
        "name": spec.name,
        "type": spec.type,
        "application": spec.application,
        "notifications": sorted(set(spec.notifications)),
        "enabled": spec.enabled,
        "description": spec.description,
        "labels": desired_labels(owner, spec.prevent_destroy),
    }
    if spec.support_email is not None:
        body["support_email"] = spec.support_email
    if spec.type == "url":
        body["url"] = spec.url
        body["format"] = spec.format
        if spec.secret is not None and spec.secret.value is not None:
            body["secret"] = spec.secret.value
    else:
        body["email"] = spec.email
    return body


def update_patch(change: Change, owner: str) -> dict[str, Any]:
    """The PATCH body for an Update: exactly the fields the plan lists, with real values."""
    spec, remote = change.spec, change.remote
    assert spec is not None and remote is not None, "an update carries its spec and remote"
    changed = {f.field for f in change.fields}
    patch: dict[str, Any] = {}
    for name in PATCHABLE:
        if name in changed:
            value = getattr(spec, name)
            patch[name] = sorted(set(value)) if name == "notifications" else value
    if "name" in changed:
        patch["name"] = spec.name  # a rename: the webhook keeps its id, secret and history
    if "secret" in changed and spec.secret is not None and spec.secret.value is not None:
        patch["secret"] = spec.secret.value
        # how long the secret it replaces stays valid (0 when the format changes too)
        grace = next(f.grace_seconds for f in change.fields if f.field == "secret")
        patch["secret_grace_seconds"] = spec.secret_grace if grace is None else grace
    if changed & LABEL_FIELDS:
        patch["labels"] = desired_labels(owner, spec.prevent_destroy, existing=remote.labels)
    return patch


def idempotency_key(config_digest: str, change: Change, run_id: str) -> str:
    """A create's key: the same for every retry within one apply run, new for the next run.

    ``run_id`` is fresh per run because the backoffice replays a key for 24 hours: a
    key derived from the plan alone would be the same after the webhook was deleted and
    the same config applied again, and the replay would report a create that never
    happened.
    """
    seen = change.precondition
    material = "\x00".join(
        [config_digest, change.name, str(change.action), str(seen.id), str(seen.version), run_id]
    )
    return "wr-" + hashlib.sha256(material.encode()).hexdigest()[:40]


def matches_spec(change: Change, owner: str, remote_now: Any,
                 fingerprints: Fingerprints) -> bool:
    """Whether a webhook read back already is what the change wanted (a lost response)."""
    spec = change.spec
    if spec is None:
        return False
    fingerprint = remote_now.secret_fingerprint or None
    want = desired_state(spec, owner, fingerprints, current_secret=fingerprint)
    return bool(remote_now.name == spec.name
                and want == actual_state(remote_now, fingerprints))

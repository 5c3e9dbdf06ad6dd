"""Drift told apart from the change under review.

Apply records on each webhook it writes the webhook as it left it (the last-applied
record: ``RemoteWebhook.applied``). Three states of a field then say where a planned
change comes from: the live value L, the last-applied value A and the config's value D
(and, with ``--base``, the base revision's value B):

* L != A: changed outside the config since the last apply (drift);
* D != A: the config asks for something the last apply did not (a change under review);
  with a base, the pull request made it when D != B, else the base already asked for it.

A field in both cases says so (``both``). Without a last-applied record (a webhook no apply
of this version wrote) nothing tells drift from config: the change's origin is the
config's. Drift is looked for on the webhooks the plan changes (where it matters: apply
would restore the config); a webhook changed outside to exactly what the config says
needs nothing.

A managed webhook stripped of its owner label is recognised by its last-applied record
(``reclaimable``): the plan repairs the labels instead of reporting a name conflict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from contract.fingerprints import Fingerprints
from reconciler.errors import ProviderError
from reconciler.model import (
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    MANAGER,
    RemoteWebhook,
    WebhookSpec,
)
from reconciler.plan.changes import Action, Change, Plan, safe_value
from reconciler.plan.normalize import FIELDS, State, actual_state, desired_state
from reconciler.plan.review import Drift, DriftField


def last_applied(plan: Plan, change: Change) -> dict[str, Any]:
    """The last-applied record apply sends with a create or update (``applied``): the
    digest of the spec as the plan shows it (secrets as fingerprints), the config's git
    revision, and the owner. The backoffice adds the moment and the webhook it left."""
    view = change.data["after"]
    text = json.dumps(view, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {"digest": "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "revision": plan.context.revision, "owner": plan.owner}


def reclaimable(remote: RemoteWebhook, owner: str) -> bool:
    """A webhook this owner's apply wrote last, whose owner label someone removed."""
    labels = remote.labels
    return (
        not labels.get(LABEL_OWNER)
        and labels.get(LABEL_MANAGED_BY) in (None, "", MANAGER)
        and remote.applied_owner == owner
    )


def applied_state(remote: RemoteWebhook, fingerprints: Fingerprints) -> State | None:
    """The webhook as the last apply left it, in canonical form; None without a record.

    Its fingerprints are the backoffice's, keyed like the live webhook's: every record
    was written after schema step 6 (step 9 comes after it), and a server-key rotation
    keeps the merchants' fingerprint keys, so the two compare as they are."""
    record = remote.applied
    if record is None:
        return None
    snapshot = {**record["state"], "id": remote.id, "name": remote.name}
    try:
        return actual_state(RemoteWebhook.from_api(snapshot), fingerprints)
    except ProviderError:  # a record this version cannot read: no drift can be told
        return None


def _origin(live: object, applied: object, wanted: object, base: object,
            has_base: bool) -> str:
    drifted = live != applied
    asked = wanted != applied
    if drifted and asked:
        return "both"
    if drifted:
        return "drift"
    if not has_base:
        return "config"
    return "pull_request" if wanted != base else "base"


def _wanted(change: Change, spec: WebhookSpec, owner: str,
            fingerprints: Fingerprints) -> State:
    """The config's side as the planner compared it."""
    remote = change.remote
    if change.action is Action.UPDATE and remote is not None:
        return desired_state(spec, owner, fingerprints,
                             current_secret=remote.secret_fingerprint or None)
    return desired_state(spec, owner, fingerprints)


def annotate(plan: Plan, fingerprints: Fingerprints, *,
             base: Mapping[str, WebhookSpec] | None = None) -> Plan:
    """``plan`` with each change's origin, and the drift of the webhooks it changes;
    ``fingerprints``: the merchant's, as the plan was made with.

    ``base``: the webhooks of the config at the base revision (None without ``--base``;
    empty when the config did not exist there).
    """
    owner = plan.owner
    has_base = base is not None
    changes: list[Change] = []
    drift: list[Drift] = []
    for change in plan.changes:
        if change.action in (Action.CREATE, Action.DELETE):
            origin = "config"
            if base is not None:
                in_base = change.name in base
                origin = ("base" if in_base else "pull_request") if change.action is \
                    Action.CREATE else ("pull_request" if in_base else "base")
            changes.append(dataclasses.replace(change, origin=origin))
            continue
        spec, remote = change.spec, change.remote
        assert spec is not None and remote is not None, "an update carries both sides"
        live = actual_state(remote, fingerprints)
        applied = applied_state(remote, fingerprints)
        wanted = _wanted(change, spec, owner, fingerprints)
        base_spec = base.get(change.name) if base is not None else None
        then = None if base_spec is None else desired_state(
            base_spec, owner, fingerprints, current_secret=remote.secret_fingerprint or None)
        fields = []
        for fc in change.fields:
            if fc.field not in FIELDS:  # a rename's name: only the config asks for one
                origin = "config" if not has_base else (
                    "base" if base_spec is not None else "pull_request")
                fields.append(dataclasses.replace(fc, origin=origin))
                continue
            i = FIELDS.index(fc.field)
            if applied is None:
                origin = "config"
                if has_base:
                    origin = "pull_request" if then is None or then[i] != wanted[i] else "base"
            else:
                origin = _origin(live[i], applied[i], wanted[i],
                                 None if then is None else then[i], has_base)
            fields.append(dataclasses.replace(fc, origin=origin))
        changes.append(dataclasses.replace(change, fields=tuple(fields)))
        if applied is not None and (found := _drift(remote, live, applied)) is not None:
            drift.append(found)
    return dataclasses.replace(plan, changes=tuple(changes), drift=tuple(drift))


def _drift(remote: RemoteWebhook, live: State, applied: State) -> Drift | None:
    fields = tuple(
        DriftField(name, safe_value(name, was), safe_value(name, now))
        for name, was, now in zip(FIELDS, applied, live, strict=True)
        if was != now
    )
    if not fields:
        return None
    record = remote.applied or {}
    at, revision = record.get("at"), record.get("revision")
    return Drift(remote.name, at if isinstance(at, str) else None,
                 revision if isinstance(revision, str) else None, fields)

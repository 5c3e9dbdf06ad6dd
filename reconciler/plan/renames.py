"""Renames: a config webhook with ``renamed_from`` takes over the backoffice's webhook of
an old name (same id, secret and delivery history), and the delete + create pairs that
look like a rename but say nothing of it are pointed out.

``find_old`` says which remote webhook a spec renames (or that its name is already
taken, which is an error); ``looks_renamed`` pairs the deletes and creates of a plan
that share their target (URL or e-mail) and application.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contract.fingerprints import Fingerprints
from reconciler.errors import PlanError
from reconciler.model import RemoteWebhook, WebhookSpec
from reconciler.plan.changes import Action, Change
from reconciler.plan.normalize import FIELDS, TYPE, actual_state, desired_state
from reconciler.plan.notices import PlanWarning, rename_hint

_TARGET = (FIELDS.index("url"), FIELDS.index("email"), FIELDS.index("application"))


def find_old(spec: WebhookSpec, remotes: Mapping[str, RemoteWebhook],
             current: RemoteWebhook | None,
             fingerprints: Fingerprints) -> RemoteWebhook | None:
    """The backoffice's webhook ``spec`` renames: the one of its ``renamed_from`` names
    that exists. None when none does (a new webhook, or one renamed already)."""
    found = [remotes[old] for old in spec.renamed_from if old in remotes]
    if not found:
        return None
    old = found[0]
    if current is not None:
        raise PlanError(
            f"{spec.name!r} lists {old.name!r} in renamed_from, but both exist in the "
            f"backoffice ({current.id} and {old.id}): which one should carry on is unclear. "
            f"Delete one of them in the backoffice, or take {old.name!r} out of renamed_from "
            "(it is then deleted like any webhook the config no longer declares)")
    if len(found) > 1:
        names = " and ".join(repr(r.name) for r in found)
        raise PlanError(
            f"{spec.name!r} lists {names} in renamed_from, and each exists in the "
            "backoffice: a webhook can be renamed from one of them only; keep the one to "
            "rename in renamed_from")
    if actual_state(old, fingerprints)[TYPE] != spec.type:
        raise PlanError(
            f"{spec.name!r} would rename {old.name!r} and change its type "
            f"({old.type} -> {spec.type}) at once, which the backoffice cannot do (a new "
            "type is a new webhook): rename it first keeping the type, apply, then change "
            "the type")
    return old


def looks_renamed(changes: Iterable[Change], owner: str,
                  fingerprints: Fingerprints) -> list[PlanWarning]:
    """A warning for each delete and create of the same type, target and application
    (the first unpaired one each): most likely a rename without ``renamed_from``."""
    creates = [c for c in changes if c.action is Action.CREATE and c.spec is not None]
    deletes = [c for c in changes if c.action is Action.DELETE and c.remote is not None]
    warnings: list[PlanWarning] = []
    paired: set[str] = set()
    for create in creates:
        assert create.spec is not None
        want = desired_state(create.spec, owner, fingerprints)
        for delete in deletes:
            assert delete.remote is not None
            have = actual_state(delete.remote, fingerprints)
            if delete.name in paired or have[TYPE] != want[TYPE]:
                continue
            if all(have[i] == want[i] for i in _TARGET):
                paired.add(delete.name)
                warnings.append(rename_hint(delete.name, create.name))
                break
    return warnings

"""The diff engine: desired webhooks against actual ones, as an ordered ``Plan`` of changes.

Order of changes: by action (create, update, replace, delete), then by name. That is
the order apply runs them in (deletes last), it puts every destructive change together
at the end, next to the summary and the warnings, where a reviewer looks; within a
group, name order makes a webhook easy to find and the output stable.

Unchanged pairs cost two tuple builds and one ``==``. A differing pair is explained
field by field: both states are flat, so deepdiff would add time and nothing else.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from contract.fingerprints import Fingerprints
from contract.times import iso_seconds
from contract.urls import has_credentials
from reconciler.errors import PlanError
from reconciler.model import (
    DEFAULT_THRESHOLDS,
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    MANAGER,
    RemoteWebhook,
    SafetyThresholds,
    WebhookSpec,
)
from reconciler.plan.changes import (
    ACTION_ORDER,
    Change,
    ConflictItem,
    Create,
    Delete,
    FieldChange,
    Plan,
    PlanOptions,
    Precondition,
    RemoteRef,
    Replace,
    SafeValue,
    Sensitive,
    Update,
    safe_value,
)
from reconciler.plan.drift import reclaimable
from reconciler.plan.normalize import (
    FIELDS,
    TYPE,
    State,
    actual_state,
    as_dict,
    credential_url,
    desired_state,
    normalize_url,
)
from reconciler.plan.notices import PlanWarning, weak_secret
from reconciler.plan.renames import find_old, looks_renamed
from reconciler.plan.safety import unsafe_reasons
from reconciler.target import Target

FORMAT = FIELDS.index("format")
SECRET = FIELDS.index("secret")


class DesiredState(Protocol):
    """What the planner needs of a config (``reconciler.model.Config`` fits)."""

    @property
    def owner(self) -> str: ...

    @property
    def webhooks(self) -> Mapping[str, WebhookSpec]: ...

    @property
    def digest(self) -> str: ...


def _view(state: State, *, secret_source: str | None = None,
          url_shown: Sensitive | None = None) -> dict[str, SafeValue]:
    """A state fit to show. Only ``url`` and ``secret`` can hold something to hide;
    ``url_shown`` stands for a URL read through a reference."""
    view = cast(dict[str, SafeValue], as_dict(state))
    view["url"] = url_shown if url_shown is not None else safe_value("url", view["url"])
    view["secret"] = safe_value("secret", view["secret"], source=secret_source)
    return view


def referenced_url(spec: WebhookSpec, fingerprints: Fingerprints) -> Sensitive | None:
    """How a URL read through a reference is shown, or None for a URL written out.

    Sensitive everywhere: redacted as a URL with credentials is (``user:***@``, or
    ``***@``), with the fingerprint of the whole URL (as the backoffice computes it) to
    tell a change, and the url as written (``${env:ORDERS_URL}``) as its source.
    """
    if spec.url_source is None or spec.url is None:
        return None
    desired = credential_url(spec.url, fingerprints) if has_credentials(spec.url) else None
    if desired is not None:
        redacted, fingerprint = desired.redacted, desired.fingerprint
    else:
        redacted, fingerprint = normalize_url(spec.url) or spec.url, fingerprints.url(spec.url)
    return Sensitive(fingerprint, redacted=redacted, source=spec.url_source)


def _field_changes(
    before: State, after: State, *, secret_source: str | None = None,
    url_shown: Sensitive | None = None,
    grace: tuple[int, str | None] | None = None,
) -> tuple[FieldChange, ...]:
    """Explain a differing pair, field by field (the states are flat, so no deep diff).

    ``grace``: (seconds, the estimated end) of a replaced secret, for an update.
    """
    out = []
    for name, old, new in zip(FIELDS, before, after, strict=True):
        if old == new:
            continue
        added: tuple[str, ...] = ()
        removed: tuple[str, ...] = ()
        if name == "notifications":
            assert isinstance(old, tuple) and isinstance(new, tuple)
            added = tuple(sorted(set(new) - set(old)))
            removed = tuple(sorted(set(old) - set(new)))
        shown = url_shown if name == "url" and url_shown is not None else None
        seconds, until = grace if name == "secret" and grace is not None else (None, None)
        out.append(
            FieldChange(
                name,
                safe_value(name, old),
                shown if shown is not None else safe_value(name, new, source=secret_source),
                added,
                removed,
                grace_seconds=seconds,
                previous_valid_until=until,
            )
        )
    return tuple(out)


def _grace(spec: WebhookSpec, have: State, want: State,
           now: datetime) -> tuple[int, str | None] | None:
    """The grace of the secret an update replaces: none unless one is replaced; 0 when
    the format changes too (the old secret cannot serve the new format)."""
    if have[SECRET] is None or have[SECRET] == want[SECRET]:
        return None
    seconds = spec.secret_grace if have[FORMAT] == want[FORMAT] else 0
    until = iso_seconds(now + timedelta(seconds=seconds)) if seconds > 0 else None
    return seconds, until


def _secret_source(spec: WebhookSpec) -> str | None:
    secret = spec.secret
    return secret.source if secret is not None and secret.value is not None else None


def _index(actual: Iterable[RemoteWebhook]) -> dict[str, RemoteWebhook]:
    by_name: dict[str, RemoteWebhook] = {}
    duplicates: set[str] = set()
    for remote in actual:
        if remote.name in by_name:
            duplicates.add(remote.name)
        by_name[remote.name] = remote
    if duplicates:
        names = ", ".join(sorted(duplicates))
        raise PlanError(f"the backoffice returned more than one webhook named {names}")
    return by_name


def _check_targets(targets: frozenset[str], known: set[str]) -> None:
    unknown = sorted(targets - known)
    if not unknown:
        return
    messages = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        messages.append(f"unknown target {name!r}: not in the config nor the backoffice{hint}")
    raise PlanError("; ".join(messages))


def build_plan(
    desired: DesiredState,
    actual: Iterable[RemoteWebhook],
    *,
    fingerprints: Fingerprints,
    targets: Iterable[str] = frozenset(),
    adopt: bool = False,
    force: bool = False,
    backoffice: Target | None = None,
    thresholds: SafetyThresholds = DEFAULT_THRESHOLDS,
    now: datetime | None = None,
) -> Plan:
    """Diff the config against the backoffice's webhooks into an ordered, checked Plan;
    ``backoffice`` names where ``actual`` was read (plans and plan files carry it).

    ``fingerprints``: the merchant's (``Provider.fingerprints``), to fingerprint the
    config's secrets and URLs with credentials as the backoffice does.

    A config webhook whose name a webhook of this owner holds without its owner label (a
    stripped label, told by the last-applied record) is planned as this owner's: the plan
    restores the labels. ``now``: the moment a replaced secret's grace is estimated from
    (default: now)."""
    owner = desired.owner
    wanted = desired.webhooks
    remotes = _index(actual)
    scope = frozenset(targets)
    if scope:
        _check_targets(scope, set(wanted) | set(remotes))
    options = PlanOptions(scope, adopt, force)
    moment = now or datetime.now(UTC)

    changes: list[Change] = []
    conflicts: list[ConflictItem] = []
    warnings: list[PlanWarning] = []
    renamed: set[str] = set()  # old names a rename takes over: not deleted
    unchanged = 0
    for name, spec in wanted.items():
        if scope and name not in scope and not scope.intersection(spec.renamed_from):
            continue
        remote = remotes.get(name)
        old = find_old(spec, remotes, remote, fingerprints) if spec.renamed_from else None
        if old is not None:
            renamed.add(old.name)
            if not _is_ours(old, owner) and not adopt and not reclaimable(old, owner):
                managed_by = old.labels.get(LABEL_MANAGED_BY)
                conflicts.append(ConflictItem(old.name, old.id, old.owner, managed_by))
            else:
                rename = _compare(spec, old, owner, fingerprints, moment, rename=True)
                assert rename is not None  # a rename is always a change
                changes.append(rename)
                if old.secret_weak and not _sends_secret(spec, old, fingerprints):
                    warnings.append(weak_secret(name))
            continue
        if remote is not None and remote.secret_weak and _is_ours(remote, owner) \
                and not _sends_secret(spec, remote, fingerprints):
            warnings.append(weak_secret(name))
        if remote is None:
            state = desired_state(spec, owner, fingerprints)
            changes.append(
                Create(
                    name,
                    None,
                    _view(state, secret_source=_secret_source(spec),
                          url_shown=referenced_url(spec, fingerprints)),
                    (),
                    Precondition(),
                    spec=spec,
                )
            )
        elif not _is_ours(remote, owner) and not adopt and not reclaimable(remote, owner):
            managed_by = remote.labels.get(LABEL_MANAGED_BY)
            conflicts.append(ConflictItem(name, remote.id, remote.owner, managed_by))
        elif (change := _compare(spec, remote, owner, fingerprints, moment)) is None:
            unchanged += 1
        else:
            changes.append(change)

    unmanaged: list[RemoteRef] = []
    foreign: list[RemoteRef] = []
    managed = 0
    for remote in remotes.values():
        ours = _is_ours(remote, owner)
        if ours:
            managed += 1
        if remote.name in wanted or remote.name in renamed or (
                scope and remote.name not in scope):
            continue
        if ours:
            changes.append(
                Delete(
                    remote.name,
                    _view(actual_state(remote, fingerprints)),
                    None,
                    (),
                    Precondition(remote.id, remote.version),
                    protected=remote.prevent_destroy,
                    remote=remote,
                )
            )
        elif remote.managed:
            foreign.append(RemoteRef(remote.name, remote.id, remote.type, remote.owner))
        else:
            unmanaged.append(RemoteRef(remote.name, remote.id, remote.type, remote.owner))

    changes.sort(key=lambda c: (ACTION_ORDER[c.action], c.name))
    conflicts.sort(key=lambda c: c.name)
    warnings = looks_renamed(changes, owner, fingerprints) + sorted(warnings, key=lambda w: w.names)
    # The threshold's base is every webhook of this owner, also when --target narrows
    # the plan: a share of the whole is what tells a slip from a clean-up.
    reasons = unsafe_reasons(changes, conflicts, managed, force, thresholds)
    return Plan(
        owner=owner,
        config_digest=desired.digest,
        changes=tuple(changes),
        unchanged=unchanged,
        unmanaged=tuple(sorted(unmanaged, key=lambda r: r.name)),
        foreign=tuple(sorted(foreign, key=lambda r: r.name)),
        conflicts=tuple(conflicts),
        reasons=tuple(reasons),
        managed=managed,
        options=options,
        backoffice=backoffice,
        warnings=tuple(warnings),
    )


def _is_ours(remote: RemoteWebhook, owner: str) -> bool:
    labels = remote.labels
    return labels.get(LABEL_OWNER) == owner and labels.get(LABEL_MANAGED_BY) == MANAGER


def _sends_secret(spec: WebhookSpec, remote: RemoteWebhook,
                  fingerprints: Fingerprints) -> bool:
    """Whether applying ``spec`` sends a secret other than the one ``remote`` has."""
    fingerprint = spec.secret.fingerprint(fingerprints) if spec.secret is not None else None
    return fingerprint is not None and fingerprint != remote.secret_fingerprint


def _compare(spec: WebhookSpec, remote: RemoteWebhook, owner: str,
             fingerprints: Fingerprints, now: datetime, *,
             rename: bool = False) -> Change | None:
    """None when the pair is in sync, else the Update or Replace that syncs it; with
    ``rename``, the Update that renames ``remote`` to the spec's name (changes or not).

    The in-sync case is the hot path: two tuples built and compared, nothing else.
    """
    have = actual_state(remote, fingerprints)
    want = desired_state(spec, owner, fingerprints,
                         current_secret=remote.secret_fingerprint or None)
    if want == have and not rename:
        return None
    kind: type[Change] = Update if want[TYPE] == have[TYPE] else Replace
    if kind is Replace:  # a new webhook: the backoffice generates a secret unless given one
        want = desired_state(spec, owner, fingerprints)
    ours = _is_ours(remote, owner) or reclaimable(remote, owner)
    source = _secret_source(spec)
    shown = referenced_url(spec, fingerprints)
    fields = _field_changes(have, want, secret_source=source, url_shown=shown,
                            grace=_grace(spec, have, want, now) if kind is Update else None)
    if rename:
        fields = (FieldChange("name", remote.name, spec.name), *fields)
    return kind(
        spec.name,  # the identity both sides were matched on (the new name of a rename)
        _view(have),
        _view(want, secret_source=source, url_shown=shown),
        fields,
        Precondition(remote.id, remote.version),
        adopt=not ours,
        adopted_from=None if ours else remote.owner,
        protected=kind is Replace and (spec.prevent_destroy or remote.prevent_destroy),
        renamed_from=remote.name if rename else None,
        spec=spec,
        remote=remote,
    )

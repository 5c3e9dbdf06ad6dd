"""The diff engine: desired webhooks against actual ones, as an ordered ``Plan`` of changes.

A plan holds domain objects (``Create``, ``Update``, ``Replace``, ``Delete``), what
was left alone (unchanged, unmanaged, other owners'), conflicts, and the reasons it is
unsafe. Renderers (``reconciler.render``) turn it into text, Markdown or JSON; apply
executes it. Nothing here prints.

Order of changes: by action (create, update, replace, delete), then by name. That is
the order apply runs them in (deletes last), it puts every destructive change together
at the end, next to the summary and the warnings, where a reviewer looks; within a
group, name order makes a webhook easy to find and the output stable.

Unchanged pairs cost two tuple builds and one ``==``. A differing pair is explained
field by field: both states are flat, so deepdiff would add time and nothing else.

Secrets never enter a plan's public parts: values are held as ``SafeValue``s (secret
fingerprints; URLs with credentials as a redacted form plus a fingerprint). Only
``Change.spec`` and ``Change.remote`` (hidden from repr and from ``.data``) carry the
real values, for apply.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol, cast

from contract.fingerprints import url_fingerprint
from contract.urls import has_credentials, redact_url
from reconciler.errors import PlanError, UnsafePlan
from reconciler.model import LABEL_MANAGED_BY, LABEL_OWNER, MANAGER, RemoteWebhook, WebhookSpec
from reconciler.normalize import (
    FIELDS,
    TYPE,
    CredentialUrl,
    State,
    actual_state,
    as_dict,
    desired_state,
)

FORMAT_VERSION = "1"
# Bulk-delete guard: deletes + replaces above this share of the owner's managed
# webhooks make a plan unsafe (unless forced), once there are at least MIN_MANAGED.
THRESHOLD_PERCENT = 30
THRESHOLD_MIN_MANAGED = 10


class DesiredState(Protocol):
    """What the planner needs of a config (``reconciler.model.Config`` fits)."""

    @property
    def owner(self) -> str: ...

    @property
    def webhooks(self) -> Mapping[str, WebhookSpec]: ...

    @property
    def digest(self) -> str: ...


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"


ACTION_ORDER: dict[Action, int] = {a: i for i, a in enumerate(Action)}


@dataclass(frozen=True)
class Sensitive:
    """A value shown only as a fingerprint: a secret, or a URL that carries credentials."""

    fingerprint: str
    redacted: str | None = None  # what may be shown (URLs); None for secrets
    source: str | None = None  # where the config reads a secret from, never its value

    @property
    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sensitive": True, "fingerprint": self.fingerprint}
        if self.redacted is not None:
            out["redacted"] = self.redacted
        if self.source is not None:
            out["source"] = self.source
        return out


SafeValue = str | bool | int | tuple[str, ...] | Sensitive | None
View = Mapping[str, SafeValue]


def safe_value(name: str, value: object, *, source: str | None = None) -> SafeValue:
    """A normalised field value made fit to show: secrets and URL credentials hidden."""
    if name == "secret":
        return Sensitive(str(value), source=source) if value is not None else None
    if isinstance(value, CredentialUrl):
        return Sensitive(value.fingerprint, redacted=value.redacted)
    if name == "url" and isinstance(value, str) and has_credentials(value):
        return Sensitive(url_fingerprint(value), redacted=redact_url(value))
    if value is None or isinstance(value, str | bool | int | tuple):
        return value
    raise TypeError(f"unexpected value for {name}: {type(value).__name__}")  # a bug


def json_value(value: SafeValue) -> Any:
    """A SafeValue as JSON-ready data."""
    if isinstance(value, Sensitive):
        return value.data
    if isinstance(value, tuple):
        return list(value)
    return value


def _view(state: State, *, secret_source: str | None = None) -> dict[str, SafeValue]:
    """A state fit to show. Only ``url`` and ``secret`` can hold something to hide."""
    view = cast(dict[str, SafeValue], as_dict(state))
    view["url"] = safe_value("url", view["url"])
    view["secret"] = safe_value("secret", view["secret"], source=secret_source)
    return view


@dataclass(frozen=True)
class FieldChange:
    """One field's change; ``added``/``removed`` list set items (notifications)."""

    field: str
    before: SafeValue
    after: SafeValue
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def sensitive(self) -> bool:
        return isinstance(self.before, Sensitive) or isinstance(self.after, Sensitive)

    @property
    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field": self.field,
            "before": json_value(self.before),
            "after": json_value(self.after),
        }
        if self.added or self.removed:
            out["added"] = list(self.added)
            out["removed"] = list(self.removed)
        return out


@dataclass(frozen=True)
class Precondition:
    """What apply expects to find: the remote ``id`` at ``version``, or nothing (absent)."""

    id: str | None = None
    version: int | None = None

    @property
    def absent(self) -> bool:
        return self.id is None

    @property
    def data(self) -> dict[str, Any]:
        if self.id is None:
            return {"absent": True}
        return {"id": self.id, "version": self.version}


@dataclass(frozen=True)
class Change:
    """One change to one webhook (by name). Subclasses fix the action."""

    action: ClassVar[Action]

    name: str
    before: View | None
    after: View | None
    fields: tuple[FieldChange, ...]
    precondition: Precondition
    adopt: bool = False  # takes over a webhook this owner did not create
    adopted_from: str | None = None  # its owner label, None when it had none
    protected: bool = False  # prevent_destroy blocks this change
    # The real values, for apply only: never rendered, never in .data or repr.
    spec: WebhookSpec | None = field(default=None, repr=False, compare=False)
    remote: RemoteWebhook | None = field(default=None, repr=False, compare=False)

    @property
    def type(self) -> str:
        view = self.after if self.after is not None else self.before
        assert view is not None
        return str(view["type"])

    @property
    def target(self) -> SafeValue:
        """The URL or e-mail it delivers to (after the change when there is an after)."""
        view = self.after if self.after is not None else self.before
        assert view is not None
        return view["url"] if view["type"] == "url" else view["email"]

    @property
    def data(self) -> dict[str, Any]:
        def view_data(view: View | None) -> dict[str, Any] | None:
            return None if view is None else {k: json_value(v) for k, v in view.items()}

        return {
            "action": str(self.action),
            "name": self.name,
            "type": self.type,
            "adopt": self.adopt,
            "adopted_from": self.adopted_from,
            "protected": self.protected,
            "before": view_data(self.before),
            "after": view_data(self.after),
            "fields": [f.data for f in self.fields],
            "precondition": self.precondition.data,
        }


@dataclass(frozen=True)
class Create(Change):
    action: ClassVar[Action] = Action.CREATE


@dataclass(frozen=True)
class Update(Change):
    action: ClassVar[Action] = Action.UPDATE


@dataclass(frozen=True)
class Replace(Change):
    """A type change: the backoffice can't change a type, so delete then create."""

    action: ClassVar[Action] = Action.REPLACE


@dataclass(frozen=True)
class Delete(Change):
    action: ClassVar[Action] = Action.DELETE


@dataclass(frozen=True)
class RemoteRef:
    """A remote webhook the plan leaves alone (unmanaged, or another owner's)."""

    name: str
    id: str
    type: str
    owner: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "id": self.id, "type": self.type}
        if self.owner is not None:
            out["owner"] = self.owner
        return out


@dataclass(frozen=True)
class ConflictItem:
    """A config webhook whose name is taken by one this owner did not create."""

    name: str
    id: str
    owner: str | None
    managed_by: str | None

    @property
    def message(self) -> str:
        whose = f'owned by "{self.owner}"' if self.owner else "not managed by webhooks-reconciler"
        if self.owner and self.managed_by is None:
            whose = f'labelled owner "{self.owner}" but not managed by webhooks-reconciler'
        return f'"{self.name}" already exists in the backoffice ({self.id}), {whose}'

    @property
    def data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "owner": self.owner,
            "managed_by": self.managed_by,
            "message": self.message,
        }


ReasonKind = Literal["threshold", "prevent_destroy", "conflict"]


@dataclass(frozen=True)
class UnsafeReason:
    """Why a plan must not be applied, and how to get past it."""

    kind: ReasonKind
    message: str
    hint: str
    names: tuple[str, ...] = ()
    overridden: bool = False  # --force accepted it (the threshold only)

    @property
    def data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint,
            "names": list(self.names),
            "overridden": self.overridden,
        }


@dataclass(frozen=True)
class PlanOptions:
    targets: frozenset[str] = frozenset()
    adopt: bool = False
    force: bool = False

    @property
    def data(self) -> dict[str, Any]:
        return {"targets": sorted(self.targets), "adopt": self.adopt, "force": self.force}


@dataclass(frozen=True)
class Summary:
    create: int
    update: int
    replace: int
    delete: int
    unchanged: int
    unmanaged: int
    foreign: int
    conflicts: int

    @property
    def data(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class Plan:
    """The changes that make the backoffice match the config, and what stands in the way."""

    owner: str
    config_digest: str
    changes: tuple[Change, ...]
    unchanged: int
    unmanaged: tuple[RemoteRef, ...]
    foreign: tuple[RemoteRef, ...]
    conflicts: tuple[ConflictItem, ...]
    reasons: tuple[UnsafeReason, ...]  # every reason, including those --force overrode
    managed: int  # webhooks of this owner in the backoffice (the threshold's base)
    options: PlanOptions = PlanOptions()

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def unsafe(self) -> tuple[UnsafeReason, ...]:
        """The reasons that block apply."""
        return tuple(r for r in self.reasons if not r.overridden)

    @property
    def is_safe(self) -> bool:
        return not self.unsafe

    @property
    def summary(self) -> Summary:
        counts = dict.fromkeys(Action, 0)
        for change in self.changes:
            counts[change.action] += 1
        return Summary(
            create=counts[Action.CREATE],
            update=counts[Action.UPDATE],
            replace=counts[Action.REPLACE],
            delete=counts[Action.DELETE],
            unchanged=self.unchanged,
            unmanaged=len(self.unmanaged),
            foreign=len(self.foreign),
            conflicts=len(self.conflicts),
        )

    def summary_line(self) -> str:
        s = self.summary
        hidden = []
        if s.unmanaged:
            hidden.append(f"{s.unmanaged} unmanaged")
        if s.foreign:
            hidden.append(f"{s.foreign} owned by other owners")
        tail = f" {' and '.join(hidden)} not shown." if hidden else ""
        if not self.changes and not self.conflicts:
            noun = "webhook" if s.unchanged == 1 else "webhooks"
            return f"No changes. The backoffice matches the config ({s.unchanged} {noun}).{tail}"
        line = (
            f"Plan: {s.create} to create, {s.update} to update, {s.replace} to replace, "
            f"{s.delete} to delete; {s.unchanged} unchanged"
        )
        if s.conflicts:
            line += f"; {s.conflicts} conflict{'s' if s.conflicts != 1 else ''}"
        return line + ("." if not tail else ";" + tail)

    def raise_if_unsafe(self) -> None:
        """Raise ``UnsafePlan`` listing every blocking reason and its way out."""
        if self.unsafe:
            lines = [f"- {r.message}. {r.hint}" for r in self.unsafe]
            raise UnsafePlan("the plan is unsafe and was not applied:\n" + "\n".join(lines))

    @property
    def data(self) -> dict[str, Any]:
        """The plan as JSON-ready data, per ``schemas/plan.schema.json``."""
        return {
            "format_version": FORMAT_VERSION,
            "config_digest": self.config_digest,
            "owner": self.owner,
            "options": self.options.data,
            "safe": self.is_safe,
            "summary": self.summary.data,
            "changes": [c.data for c in self.changes],
            "unchanged": self.unchanged,
            "unmanaged": [r.data for r in self.unmanaged],
            "foreign": [r.data for r in self.foreign],
            "conflicts": [c.data for c in self.conflicts],
            "unsafe": [r.data for r in self.reasons],
        }


def _field_changes(
    before: State, after: State, *, secret_source: str | None = None
) -> tuple[FieldChange, ...]:
    """Explain a differing pair, field by field (the states are flat, so no deep diff)."""
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
        out.append(
            FieldChange(
                name,
                safe_value(name, old),
                safe_value(name, new, source=secret_source),
                added,
                removed,
            )
        )
    return tuple(out)


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
    targets: Iterable[str] = frozenset(),
    adopt: bool = False,
    force: bool = False,
) -> Plan:
    """Diff the config against the backoffice's webhooks into an ordered, checked Plan."""
    owner = desired.owner
    wanted = desired.webhooks
    remotes = _index(actual)
    scope = frozenset(targets)
    if scope:
        _check_targets(scope, set(wanted) | set(remotes))
    options = PlanOptions(scope, adopt, force)

    changes: list[Change] = []
    conflicts: list[ConflictItem] = []
    unchanged = 0
    for name, spec in wanted.items():
        if scope and name not in scope:
            continue
        remote = remotes.get(name)
        if remote is None:
            state = desired_state(spec, owner)
            changes.append(
                Create(
                    name,
                    None,
                    _view(state, secret_source=_secret_source(spec)),
                    (),
                    Precondition(),
                    spec=spec,
                )
            )
        elif not _is_ours(remote, owner) and not adopt:
            managed_by = remote.labels.get(LABEL_MANAGED_BY)
            conflicts.append(ConflictItem(name, remote.id, remote.owner, managed_by))
        elif (change := _compare(spec, remote, owner)) is None:
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
        if remote.name in wanted or (scope and remote.name not in scope):
            continue
        if ours:
            changes.append(
                Delete(
                    remote.name,
                    _view(actual_state(remote)),
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
    # The threshold's base is every webhook of this owner, also when --target narrows
    # the plan: a share of the whole is what tells a slip from a clean-up.
    reasons = _safety(changes, conflicts, managed, force)
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
    )


def _is_ours(remote: RemoteWebhook, owner: str) -> bool:
    labels = remote.labels
    return labels.get(LABEL_OWNER) == owner and labels.get(LABEL_MANAGED_BY) == MANAGER


def _compare(spec: WebhookSpec, remote: RemoteWebhook, owner: str) -> Change | None:
    """None when the pair is in sync, else the Update or Replace that syncs it.

    The in-sync case is the hot path: two tuples built and compared, nothing else.
    """
    have = actual_state(remote)
    want = desired_state(spec, owner, current_secret=remote.secret_fingerprint or None)
    if want == have:
        return None
    kind: type[Change] = Update if want[TYPE] == have[TYPE] else Replace
    if kind is Replace:  # a new webhook: the backoffice generates a secret unless given one
        want = desired_state(spec, owner)
    ours = _is_ours(remote, owner)
    source = _secret_source(spec)
    return kind(
        remote.name,  # the identity both sides were matched on
        _view(have),
        _view(want, secret_source=source),
        _field_changes(have, want, secret_source=source),
        Precondition(remote.id, remote.version),
        adopt=not ours,
        adopted_from=None if ours else remote.owner,
        protected=kind is Replace and (spec.prevent_destroy or remote.prevent_destroy),
        spec=spec,
        remote=remote,
    )


def _safety(
    changes: list[Change], conflicts: list[ConflictItem], managed: int, force: bool
) -> list[UnsafeReason]:
    reasons = [
        UnsafeReason(
            "conflict",
            c.message,
            "Re-run with --adopt to take it over, or give the config's webhook another name.",
            (c.name,),
        )
        for c in conflicts
    ]
    for change in changes:
        if change.protected:
            reasons.append(_protected_reason(change))
    destructive = [c.name for c in changes if c.action in (Action.DELETE, Action.REPLACE)]
    # Integer arithmetic: exactly 30% is allowed, anything above is not.
    over = len(destructive) * 100 > THRESHOLD_PERCENT * managed
    if managed >= THRESHOLD_MIN_MANAGED and over:
        share = round(len(destructive) * 100 / managed)
        reasons.append(
            UnsafeReason(
                "threshold",
                f"{len(destructive)} of {managed} managed webhooks ({share}%) would be deleted or "
                f"replaced, above the {THRESHOLD_PERCENT}% safety threshold",
                "Review the deletions, then re-run with --force to allow them.",
                tuple(destructive),
                overridden=force,
            )
        )
    return reasons


def _protected_reason(change: Change) -> UnsafeReason:
    name = change.name
    never = "--force does not override prevent_destroy."
    if change.action is Action.DELETE:
        return UnsafeReason(
            "prevent_destroy",
            f'"{name}" would be deleted, but it has prevent_destroy '
            '(label prevent-destroy="true" in the backoffice)',
            f"To delete it, put its block back with prevent_destroy: false, apply, then remove "
            f"the block. {never}",
            (name,),
        )
    assert change.before is not None and change.after is not None
    types = f"type {change.before['type']} -> {change.after['type']}"
    if change.spec is not None and change.spec.prevent_destroy:
        return UnsafeReason(
            "prevent_destroy",
            f'"{name}" would be replaced ({types}), but it has prevent_destroy: true',
            f"Set prevent_destroy: false and apply first (keeping the old type), then change "
            f"the type. {never}",
            (name,),
        )
    return UnsafeReason(
        "prevent_destroy",
        f'"{name}" would be replaced ({types}), but the backoffice still protects it '
        '(label prevent-destroy="true")',
        f"Apply with the old type first so prevent_destroy: false clears the label, then "
        f"change the type. {never}",
        (name,),
    )

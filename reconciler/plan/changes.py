"""What a plan is made of: changes to webhooks (``Create``, ``Update`` (a rename too),
``Replace``, ``Delete``) with their field changes and preconditions, what was left
alone, conflicts, the reasons a plan is unsafe, its warnings (``notices``), and the
``Plan`` that holds them all.

Secrets never enter a plan's public parts: values are held as ``SafeValue``s (secret
fingerprints; URLs with credentials as a redacted form plus a fingerprint). Only
``Change.spec`` and ``Change.remote`` (hidden from repr and from ``.data``) carry the
real values, for apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal

from contract.urls import has_credentials
from reconciler.errors import UnsafePlan
from reconciler.model import RemoteWebhook, WebhookSpec
from reconciler.plan.normalize import CredentialUrl
from reconciler.plan.notices import PlanWarning
from reconciler.plan.review import Drift, PlanContext
from reconciler.target import Target

# "2": plans name their backoffice ("backoffice"), URLs from references are sensitive,
# drift, origins, environments and --skip-secrets are said, and fingerprints are keyed
# with the merchant's fingerprint key (HMAC-SHA256); a plan file of version "1" published
# unkeyed ones, which apply cannot compare. Also renames (``renamed_from``, a ``name``
# field change), a secret change's grace, and the plan's ``warnings``.
FORMAT_VERSION = "2"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"


ACTION_ORDER: dict[Action, int] = {a: i for i, a in enumerate(Action)}


@dataclass(frozen=True)
class Sensitive:
    """A value shown only as a fingerprint: a secret, or a URL that carries credentials
    (a user part or a query string). The fingerprint is keyed with the merchant's
    fingerprint key, which no output holds: it can be compared, not guessed at."""

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
        # normalize makes every such URL a CredentialUrl: this one escaped it (a bug),
        # and is not shown.
        raise TypeError("a URL with credentials reached the plan unfingerprinted")
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

@dataclass(frozen=True)
class FieldChange:
    """One field's change; ``added``/``removed`` list set items (notifications).

    A secret replaced by an update has a grace: the old secret stays valid for
    ``grace_seconds`` after apply, until about ``previous_valid_until`` (the plan's
    estimate; the backoffice's clock decides at apply).
    """

    field: str
    before: SafeValue
    after: SafeValue
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    origin: str | None = None  # where the change comes from (review.ORIGINS); None: unknown
    grace_seconds: int | None = None
    previous_valid_until: str | None = None

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
        if self.origin is not None:
            out["origin"] = self.origin
        if self.grace_seconds is not None:
            out["grace"] = {"seconds": self.grace_seconds,
                            "previous_valid_until": self.previous_valid_until}
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
    origin: str | None = None  # create/delete: whose change it is (review.ORIGINS)
    renamed_from: str | None = None  # an update that renames the webhook from this name
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
            "renamed_from": self.renamed_from,
            "before": view_data(self.before),
            "after": view_data(self.after),
            "fields": [f.data for f in self.fields],
            "precondition": self.precondition.data,
            "origin": self.origin,
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
    skip_secrets: bool = False  # apply re-plans with the secrets, and compares the rest

    @property
    def data(self) -> dict[str, Any]:
        return {"targets": sorted(self.targets), "adopt": self.adopt, "force": self.force,
                "skip_secrets": self.skip_secrets}


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
    backoffice: Target | None = None  # what the plan was made against (None: not said)
    context: PlanContext = field(default_factory=PlanContext)
    drift: tuple[Drift, ...] = ()  # changed outside the config since the last apply
    warnings: tuple[PlanWarning, ...] = ()  # shown, never blocking (``notices``)

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
        if s.unmanaged and not self.context.list_unmanaged:
            hidden.append(f"{s.unmanaged} unmanaged")
        if s.foreign:
            hidden.append(f"{s.foreign} owned by other owners")
        tail = f" {' and '.join(hidden)} not shown." if hidden else ""
        if not self.changes and not self.conflicts:
            noun = "webhook" if s.unchanged == 1 else "webhooks"
            return f"No changes. The backoffice matches the config ({s.unchanged} {noun}).{tail}"
        renames = sum(1 for c in self.changes if c.renamed_from is not None)
        named = f" ({renames} rename{'s' if renames != 1 else ''})" if renames else ""
        line = (
            f"Plan: {s.create} to create, {s.update} to update{named}, {s.replace} to "
            f"replace, {s.delete} to delete; {s.unchanged} unchanged"
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
            "backoffice": None if self.backoffice is None else self.backoffice.data,
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
            **self.context.data,
            "drift": [d.data for d in self.drift],
            "warnings": [w.data for w in self.warnings],
        }

"""What a plan says beside its changes, for the people who review it: the environment, the
base revision a pull request is compared with, whether secrets were compared, the bulk-
delete guard's thresholds (``PlanContext``); and the drift (``Drift``): per webhook, the
fields changed outside the config since the last apply.

Where each planned field change comes from is its ``origin`` (``ORIGINS``), set by
``reconciler.plan.drift``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from reconciler.model import SafetyThresholds

if TYPE_CHECKING:
    from reconciler.plan.changes import SafeValue

# Where a planned field change comes from:
#   config        the config asks for it (no last-applied record, or no --base to tell more)
#   pull_request  the config asks for it, and the pull request made that change (--base)
#   base          the config asks for it, but the base revision asked for it already
#   drift         changed outside the config since the last apply: apply restores the config
#   both          the config changed it, and it was changed outside the config too
ORIGINS: Final = ("config", "pull_request", "base", "drift", "both")


@dataclass(frozen=True)
class BaseRevision:
    """The revision ``--base`` named, what git resolved it to, and whether the config was
    there (a pull request that adds the config makes every change)."""

    revision: str
    commit: str
    found: bool

    @property
    def data(self) -> dict[str, Any]:
        return {"revision": self.revision, "commit": self.commit, "config_found": self.found}


@dataclass(frozen=True)
class PlanContext:
    """What the plan was made against and with."""

    config_name: str = "webhooks.yaml"
    environment: str | None = None
    revision: str | None = None  # the config's git commit (-dirty: with local changes)
    base: BaseRevision | None = None
    secrets_compared: bool = True  # False: plan --skip-secrets
    thresholds: SafetyThresholds = field(default_factory=SafetyThresholds)
    list_unmanaged: bool = False  # --fail-on-unmanaged: they are named, and fail the check

    @property
    def data(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "config_revision": self.revision,
            "base": None if self.base is None else self.base.data,
            "secrets_compared": self.secrets_compared,
            "safety": self.thresholds.data,
        }


@dataclass(frozen=True)
class DriftField:
    """One field changed outside the config: as the last apply left it, and as it is."""

    field: str
    applied: SafeValue
    live: SafeValue

    @property
    def data(self) -> dict[str, Any]:
        from reconciler.plan.changes import json_value  # changes imports this module

        return {"field": self.field, "applied": json_value(self.applied),
                "live": json_value(self.live)}


@dataclass(frozen=True)
class Drift:
    """A webhook changed outside the config since the last apply."""

    name: str
    applied_at: str | None
    revision: str | None  # the config's revision that last apply recorded
    fields: tuple[DriftField, ...] = field(default=())

    @property
    def data(self) -> dict[str, Any]:
        return {"name": self.name, "applied_at": self.applied_at, "revision": self.revision,
                "fields": [f.data for f in self.fields]}

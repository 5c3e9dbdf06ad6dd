"""What a plan warns about without refusing: a delete and a create that look like a
rename, and a weak secret the backoffice already holds. Every plan format shows them
(text, Markdown, JSON and plan files); none ever carries a secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

NoticeKind = Literal["rename", "weak_secret"]


@dataclass(frozen=True)
class PlanWarning:
    """One thing a reviewer should know; ``names`` are the webhooks it is about."""

    kind: NoticeKind
    message: str
    names: tuple[str, ...] = ()

    @property
    def data(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "names": list(self.names)}


def rename_hint(old: str, new: str) -> PlanWarning:
    """A delete of ``old`` and a create of ``new`` with the same target and application."""
    return PlanWarning(
        "rename",
        f"{new!r} looks like a rename of {old!r} (same target and application): "
        f"add renamed_from: [{old}] to {new!r} to keep its id, secret and delivery "
        "history; as planned, it is deleted and a new webhook created",
        (old, new),
    )


def weak_secret(name: str) -> PlanWarning:
    """A stored secret the backoffice marked weak, which this plan keeps."""
    return PlanWarning(
        "weak_secret",
        f"the secret of {name!r} in the backoffice is weak (typed text, repeats or a "
        f"pattern): replace it with `webhooks secret rotate {name}`, or declare a strong "
        "one in the config (`webhooks secret generate`)",
        (name,),
    )

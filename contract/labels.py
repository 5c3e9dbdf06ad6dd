"""The labels a webhooks-reconciler config writes on the webhooks it manages.

The reconciler writes and reads them (which owner's config manages a webhook, so a plan
deletes only its owner's; prevent_destroy, kept on the webhook so that removing its
block from the config cannot delete it); the backoffice's web pages read them to say
that a webhook is managed as code, and by whom.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

MANAGER: Final = "webhooks-reconciler"
LABEL_MANAGED_BY: Final = "managed-by"
LABEL_OWNER: Final = "owner"
LABEL_PREVENT_DESTROY: Final = "prevent-destroy"


def managing_owner(labels: Mapping[str, str]) -> str | None:
    """The owner whose config manages a webhook with these labels, or None when no
    config does (both labels must be there)."""
    owner = labels.get(LABEL_OWNER) or None
    return owner if labels.get(LABEL_MANAGED_BY) == MANAGER else None

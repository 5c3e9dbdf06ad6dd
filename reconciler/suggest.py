""""Did you mean" for the names a command line gives: notification types (``emit --type``,
``list --notification``) and owners (``list --owner``). The config's own checks have
theirs in ``reconciler.config``.
"""

from __future__ import annotations

from collections.abc import Iterable

from contract.catalogue import NOTIFICATION_TYPES
from reconciler.config.findings import did_you_mean
from reconciler.errors import ReconcilerError
from reconciler.model import RemoteWebhook
from reconciler.render.terminal import printable


def notification_type(value: str, option: str) -> str:
    """``value`` when it is a notification type; otherwise an error naming the close one."""
    if value in NOTIFICATION_TYPES:
        return value
    hint = did_you_mean(value, NOTIFICATION_TYPES)
    known = ", ".join(f"{code} ({label})" for code, label in NOTIFICATION_TYPES.items())
    raise ReconcilerError(f"{option}: unknown notification type {printable(value[:64])!r}"
                          f"{hint or '.'} The types: {known}.")


def unknown_owner(webhooks: Iterable[RemoteWebhook], owner: str) -> str | None:
    """When no webhook has ``owner``: a note naming the owners there are (and the close
    one), else None."""
    owners = sorted({w.owner for w in webhooks if w.managed and w.owner})
    if owner in owners:
        return None
    shown = printable(owner[:64])
    listed = f" (owners here: {', '.join(owners)})" if owners else " (no webhook is managed)"
    return f"no webhook is managed by owner {shown!r}{listed}{did_you_mean(owner, owners)}"

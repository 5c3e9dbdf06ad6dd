"""Which webhooks of the list: the client-side owner filters, and name order.

The Backoffice's four filters (credential, notification, type, webhook text) run in the
backoffice (``ListFilters``); whether a webhook is this or that owner's, or unmanaged,
is read off its labels here.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model import RemoteWebhook


def select_owner(
    webhooks: Iterable[RemoteWebhook], *, owner: str | None = None, unmanaged: bool = False
) -> list[RemoteWebhook]:
    """The webhooks a config of ``owner`` manages, or (``unmanaged``) those none manages.

    Neither given: all of them. Both mean nothing sensible; the CLI refuses that.
    """
    if owner is not None and unmanaged:
        raise ValueError("owner and unmanaged are mutually exclusive")
    if owner is not None:
        return [w for w in webhooks if w.managed and w.owner == owner]
    if unmanaged:
        return [w for w in webhooks if not w.managed]
    return list(webhooks)


def by_name(webhooks: Iterable[RemoteWebhook]) -> list[RemoteWebhook]:
    """Name order: stable output whatever order the backoffice lists in."""
    return sorted(webhooks, key=lambda w: w.name)

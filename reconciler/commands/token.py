"""`webhooks token create`: print a new API token once, on the last line of stdout."""

from __future__ import annotations

import click

from backoffice import BackofficeError
from backoffice.catalog import DEMO_MERCHANT_ID
from reconciler.commands import Globals
from reconciler.commands.serve import open_backoffice
from reconciler.errors import ReconcilerError


def run(g: Globals, *, scope: str, db_url: str, merchant: str | None) -> int:
    merchant_id = merchant or DEMO_MERCHANT_ID
    with open_backoffice(db_url) as backoffice:
        try:
            token = backoffice.create_token(merchant_id, scope)
        except BackofficeError as exc:
            raise ReconcilerError(
                f"cannot create a token: {exc.detail} in {backoffice.db_url}"
            ) from None
        where = backoffice.db_url
    click.echo(
        f"Created a {scope} token for merchant {merchant_id!r} in {where}. "
        "It is shown once; store it now:",
        err=True,
    )
    click.echo(token)
    return 0

"""`webhooks token create`: print a new API token once, on the last line of stdout."""

from __future__ import annotations

import click

from backoffice.catalog import DEMO_MERCHANT_ID
from reconciler.commands import Globals
from reconciler.commands.serve import open_backoffice
from reconciler.providers.errors import backoffice_errors


def run(g: Globals, *, scope: str, db_url: str, merchant: str | None) -> int:
    merchant_id = merchant or DEMO_MERCHANT_ID
    with open_backoffice(db_url) as backoffice:
        where = f"{backoffice.db.url} ({backoffice.db.location})"
        with backoffice_errors(
                "create a token", where,
                message=lambda detail: f"cannot create a token: {detail} in {where}"):
            token = backoffice.tokens.create_token(merchant_id, scope)
    click.echo(
        f"Created a {scope} token for merchant {merchant_id!r} in {where}. "
        "It is shown once; store it now:",
        err=True,
    )
    click.echo(token)
    return 0

"""`webhooks token create|list|revoke`: API tokens, on the database itself (``--db``).

These work on the backoffice's database directly, as the local operator (the audit log
records them as ``cli:local``), so they need no token: the first token is made this way.
A server's API offers the same over HTTP to a manage token (``/v1/tokens``).

``create`` prints the new token once, on the last line of standard output (what it made
goes to standard error), so ``$(webhooks token create ... | tail -n1)`` works.
"""

from __future__ import annotations

import json

import click

from backoffice.catalog import DEMO_MERCHANT_ID
from backoffice.tokens import TOKEN_CACHE_SECONDS
from reconciler.commands import Globals
from reconciler.commands.serve import open_backoffice
from reconciler.errors import EXIT_OK
from reconciler.providers.errors import backoffice_errors
from reconciler.render.access import render_tokens
from reconciler.render.terminal import printable


def run(g: Globals, *, scope: str, db_url: str, merchant: str | None,
        name: str | None = None, expires_in: str | None = None) -> int:
    merchant_id = merchant or DEMO_MERCHANT_ID
    with open_backoffice(db_url) as backoffice:
        where = f"{backoffice.db.url} ({backoffice.db.location})"
        with backoffice_errors(
                "create a token", where,
                message=lambda detail: f"cannot create a token: {detail} in {where}"):
            token, shown = backoffice.tokens.issue(merchant_id, scope, name=name,
                                                   expires_in=expires_in)
    expiry = f"expires {shown['expires_at']}" if shown["expires_at"] else "never expires"
    click.echo(printable(
        f"Created {scope} token {shown['id']} ({shown['name']}, {expiry}) for merchant "
        f"{merchant_id!r} in {where}. It is shown once; store it now:"), err=True)
    click.echo(token)
    return EXIT_OK


def run_list(g: Globals, *, db_url: str, merchant: str | None, fmt: str) -> int:
    merchant_id = merchant or DEMO_MERCHANT_ID
    found: list[dict[str, object]] = []
    with open_backoffice(db_url) as backoffice:
        where = backoffice.db.url
        cursor: str | None = None
        with backoffice_errors(
                "list the tokens", where,
                message=lambda detail: f"cannot list the tokens: {detail} in {where}"):
            while True:
                page = backoffice.tokens.list_tokens(merchant_id, limit=1000, cursor=cursor)
                found.extend(page["data"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
    if fmt == "json":
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        click.echo(render_tokens(found), nl=False)
    return EXIT_OK


def run_revoke(g: Globals, *, token_id: str, db_url: str, merchant: str | None) -> int:
    merchant_id = merchant or DEMO_MERCHANT_ID
    with open_backoffice(db_url) as backoffice:
        where = backoffice.db.url
        with backoffice_errors(
                "revoke the token", where,
                message=lambda detail: f"cannot revoke the token: {detail} "
                                       f"(merchant {merchant_id!r}, {where})"):
            before = backoffice.tokens.get_token(merchant_id, token_id)
            shown = backoffice.tokens.revoke(merchant_id, token_id)
    if before["revoked_at"] is not None:
        click.echo(printable(f"Token {shown['id']} ({shown['name']}) was already revoked, "
                             f"at {shown['revoked_at']}."))
        return EXIT_OK
    click.echo(printable(
        f"Revoked token {shown['id']} ({shown['name']}) of merchant {merchant_id!r}: refused "
        f"from now on, by running servers within {TOKEN_CACHE_SECONDS:g} s."))
    return EXIT_OK

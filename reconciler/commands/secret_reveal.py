"""`webhooks secret reveal NAME`: print a URL webhook's secret, and only it, on stdout.

So ``$(webhooks secret reveal NAME)`` is the secret. The backoffice records the reveal
in its audit log (needs the reveal scope). Nothing else is printed on success.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.details import find
from reconciler.errors import EXIT_OK, ProviderError, ReconcilerError
from reconciler.providers import Provider
from reconciler.render.terminal import printable
from reconciler.session import with_provider


def run(g: Globals, config_file: Path, name: str) -> int:
    async def work(provider: Provider) -> str:
        webhook = find(await provider.fetch(), name, provider.description)
        if webhook.type != "url":
            raise ReconcilerError(printable(
                f"{name} is an e-mail webhook: e-mail webhooks have no secret to reveal"))
        revealed = await provider.reveal_secret(webhook.id)
        secret = revealed.get("secret")
        if not isinstance(secret, str) or not secret.isprintable() or not secret:
            raise ProviderError("the backoffice returned a malformed revealed secret")
        return secret

    click.echo(with_provider(g, config_file, work))
    return EXIT_OK

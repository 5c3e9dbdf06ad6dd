"""``webhooks resend DELIVERY_ID``: one more attempt of a delivery, now, whatever its
status; its attempts so far are kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.commands import Globals
from reconciler.errors import EXIT_OK
from reconciler.providers import Provider
from reconciler.render.terminal import printable
from reconciler.session import require_manage, with_provider


def run(g: Globals, config_file: Path, delivery_id: str, *, fmt: str) -> int:
    async def work(provider: Provider) -> tuple[dict[str, Any], bool]:
        await require_manage(provider, "resend")
        return await provider.resend(delivery_id), provider.target.kind == "embedded"

    delivery, embedded = with_provider(g, config_file, work)
    if fmt == "json":
        click.echo(json.dumps(delivery, indent=2, ensure_ascii=False))
        return EXIT_OK
    attempts = delivery.get("attempts")
    click.echo(printable(
        f"Resent {delivery.get('id')} ({delivery.get('notification_type')}): "
        f"{delivery.get('status')}, attempt {attempts + 1 if isinstance(attempts, int) else '?'}"
        f" due now."))
    if embedded:
        click.echo("The embedded backoffice attempts it at the next `webhooks deliver` "
                   "(or emit, deliveries, test).")
    return EXIT_OK

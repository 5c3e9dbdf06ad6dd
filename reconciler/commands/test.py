"""``webhooks test NAME``: test-fire a URL webhook; show what was sent and what came back."""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.commands import Globals
from reconciler.delivery_log import ROUND_S
from reconciler.emit import check_scenario
from reconciler.errors import EXIT_ERROR, EXIT_OK
from reconciler.providers import Provider
from reconciler.render.testfire import Fired, render_text
from reconciler.session import require_manage, with_provider
from reconciler.testfire import fire, outcome, proof, proves_secret


def run(g: Globals, config_file: Path, name: str, *, notification: str | None,
        fmt: str, scenario: str | None = None) -> int:
    check_scenario(scenario, notification)

    async def work(provider: Provider) -> Fired:
        await require_manage(provider, "test")
        fired = await fire(provider, name, notification, scenario)
        await provider.run_due(seconds=ROUND_S)  # the embedded backoffice's due retries
        return fired

    fired = with_provider(g, config_file, work)
    proven = fired.delivered and proves_secret(fired.webhook.format)
    if fmt == "json":
        click.echo(json.dumps({**fired.data, "proves_secret": proven}, indent=2,
                              ensure_ascii=False))
    else:
        click.echo(render_text(fired))
        verdict = outcome(fired.result)
        if g.color:
            verdict = click.style(verdict, fg="green" if fired.delivered else "red", bold=True)
        click.echo(f"Result: {verdict}")
        if fired.delivered:  # what that shows, honestly: it depends on the format
            click.echo(f"Secret: {proof(fired.webhook.format)}.")
    return EXIT_OK if fired.delivered else EXIT_ERROR

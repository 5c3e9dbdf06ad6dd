"""``webhooks secret rotate NAME``: a new generated secret, the old one valid for a grace.

Only for a secret the config does not declare (the backoffice generated it): a declared
one changes in the config, or the next apply would put it back. The rotation carries
If-Match with the version read, so a retry after a lost answer cannot rotate twice
(which would retire the secret the receiver holds): it meets 412, and the webhook read
again tells whether the rotation happened.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from contract.secrets import DEFAULT_GRACE_S
from contract.times import parse_duration
from reconciler.commands import Globals
from reconciler.config import read_config
from reconciler.config.checks import grace_problem
from reconciler.details import find
from reconciler.errors import EXIT_OK, ConfigError, PreconditionFailed, ReconcilerError
from reconciler.model import RemoteWebhook, WebhookSpec
from reconciler.providers import Provider
from reconciler.render.terminal import printable
from reconciler.session import with_provider


def declared(config_file: Path, name: str) -> WebhookSpec | None:
    """The config's webhook ``name``, if the config exists and declares it."""
    if not config_file.is_file():
        return None
    report = read_config(config_file, secrets="optional")
    if report.config is None:  # whether it declares the secret is unknowable: say why
        raise ConfigError(list(report.errors))
    return report.config.webhooks.get(name)


def grace_seconds(grace: str | None, spec: WebhookSpec | None) -> int:
    if grace is None:
        return spec.secret_grace if spec is not None else DEFAULT_GRACE_S
    if problem := grace_problem(grace):
        raise ReconcilerError(f"--grace: {problem}")
    return int(parse_duration(grace).total_seconds())


async def rotate(provider: Provider, name: str, grace_s: int) -> tuple[RemoteWebhook,
                                                                       RemoteWebhook]:
    """(the webhook before, after) the rotation."""
    before = find(await provider.fetch(), name, provider.description)
    if before.type != "url":
        raise ReconcilerError(f"{name} is an e-mail webhook: it has no secret to rotate")
    try:
        after = await provider.rotate_secret(before.id, grace_seconds=grace_s,
                                             if_match=before.version)
    except PreconditionFailed:
        after = await provider.get(before.id)
        if after.version != before.version + 1 \
                or after.secret_fingerprint == before.secret_fingerprint:
            raise  # someone else changed it: nothing was rotated by this command
    return before, after


def run(g: Globals, config_file: Path, name: str, *, grace: str | None, fmt: str) -> int:
    spec = declared(config_file, name)
    if spec is not None and spec.secret is not None:
        raise ReconcilerError(
            f"{name} declares its secret in {config_file} ({spec.secret.source}): a rotation "
            f"here would be undone by the next apply. Put a new secret there instead (make "
            f"one with `webhooks secret generate --format {spec.format}`) and apply: the "
            "old one stays valid for secret_grace while the receiver switches")
    seconds = grace_seconds(grace, spec)
    before, after = with_provider(g, config_file,
                                  lambda provider: rotate(provider, name, seconds))
    if fmt == "json":
        click.echo(json.dumps({
            "name": after.name, "id": after.id, "version": after.version,
            "secret_fingerprint": after.secret_fingerprint,
            "previous_secret_fingerprint": after.previous_secret_fingerprint,
            "previous_secret_valid_until": after.previous_secret_valid_until,
            "delivery_secret": after.delivery_secret,
        }, indent=2))
        return EXIT_OK
    click.echo(printable(summary(before, after)))
    return EXIT_OK


def summary(before: RemoteWebhook, after: RemoteWebhook) -> str:
    """What changed and what the receiver's team does next; fingerprints only."""
    head = (f"Rotated the secret of {after.name}: {before.secret_fingerprint} -> "
            f"{after.secret_fingerprint}")
    until = after.previous_secret_valid_until
    if until is None:
        grace = " (the old one stopped working at once)."
    else:
        grace = f" (old valid until {until})."
    lines = [head + grace,
             f"Read the new one with `webhooks secret reveal {after.name}` and give it to "
             "the receiver."]
    if until is not None and after.delivery_secret == "previous":
        lines.append(f"Deliveries keep the old key until a test-fire with the new one is "
                     f"acknowledged (`webhooks test {after.name}` once the receiver holds "
                     f"it) or until {until}.")
    elif until is not None:
        lines.append(f"Until {until} deliveries carry signatures with both secrets: the "
                     "receiver verifies with either.")
    return "\n".join(lines)

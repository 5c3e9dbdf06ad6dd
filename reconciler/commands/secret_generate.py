"""``webhooks secret generate``: a fresh strong secret for a delivery format, printed alone
on standard output (for ``$(...)`` and secret stores). It talks to no backoffice."""

from __future__ import annotations

import click

from contract import formats
from contract.secrets import secret_problem
from reconciler.errors import EXIT_OK

ATTEMPTS = 8  # a random key is weak with a probability far below 1e-10: one draw does


def strong_secret(fmt: str) -> str:
    """A generated secret that passes the rule the backoffice applies to new secrets."""
    delivery = formats.get(fmt)
    for _ in range(ATTEMPTS):
        secret = delivery.generate_secret()
        if secret_problem(fmt, secret) is None:
            return secret
    raise AssertionError("the random generator keeps making weak secrets")  # a bug


def run(fmt: str) -> int:
    click.echo(strong_secret(fmt))
    return EXIT_OK

"""The environment a test runs in: none of the variables that change what the code does.

``CLEARED`` is the one list: every ``WEBHOOKS_*`` variable the code reads, the CA
certificates TLS trusts (``SSL_CERT_FILE``, ``SSL_CERT_DIR``), click's completion switch,
the CI markers (``CI`` changes behaviour: a CI job is not trusted like a terminal, and
the embedded backoffice needs ``--embedded`` there; ``.ci/run`` sets ``CI=true``, and
clearing it runs every test, in-process or in a child process, as on a developer's
machine unless the test sets ``CI`` itself),
the CI workspace roots ``validate`` reads, ``NO_COLOR``, and the libpq variables that would
change how a PostgreSQL database is reached.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

CLEARED = (
    "WEBHOOKS_API_URL", "WEBHOOKS_API_TOKEN", "WEBHOOKS_HTTP_TIMEOUT", "WEBHOOKS_SERVER_KEY",
    "WEBHOOKS_DATA_DIR", "WEBHOOKS_DB_URL", "WEBHOOKS_LISTEN_SECRET", "WEBHOOKS_SMTP_PASSWORD",
    "WEBHOOKS_COPY_FROM", "WEBHOOKS_COPY_TO", "WEBHOOKS_INSECURE_HTTP", "WEBHOOKS_ENVIRONMENT",
    "SSL_CERT_FILE", "SSL_CERT_DIR",
    "_WEBHOOKS_COMPLETE",
    "CI", "GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_WORKSPACE", "CI_PROJECT_DIR", "NO_COLOR",
    "PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGOPTIONS",
)


def clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every ``CLEARED`` variable for the rest of the test."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)


def clean_env(*, drop: Sequence[str] = (), **extra: str) -> dict[str, str]:
    """The environment for a child process: this one without ``CLEARED``, any ``WEBHOOKS_*``
    or a variable starting with one of ``drop``; plus ``extra``."""
    prefixes = ("WEBHOOKS_", *drop)
    env = {k: v for k, v in os.environ.items()
           if k not in CLEARED and not k.startswith(prefixes)}
    env.update(extra)
    return env

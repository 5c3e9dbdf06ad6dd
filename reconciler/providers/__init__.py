"""Provider selection: the backoffice ``reconciler.target.resolve`` names, HTTP or embedded."""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path

from reconciler.commands import Globals
from reconciler.errors import ReconcilerError
from reconciler.model import Catalog
from reconciler.providers.base import ListFilters, Provider
from reconciler.providers.http_access import check_api_url, checked_token
from reconciler.target import Choice, embedded_data_dir, resolve

__all__ = ["ListFilters", "Provider", "check_api_url", "choose", "embedded_data_dir",
           "load_catalog",
           "open_provider"]

ENV_HTTP_TIMEOUT = "WEBHOOKS_HTTP_TIMEOUT"
DEFAULT_HTTP_TIMEOUT = 15.0


def http_timeout() -> float:
    """Seconds an HTTP request may take: ``WEBHOOKS_HTTP_TIMEOUT``, else 15."""
    text = os.environ.get(ENV_HTTP_TIMEOUT, "").strip()
    if not text:
        return DEFAULT_HTTP_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds <= 3600):  # also refuses nan and inf
        raise ReconcilerError(f"{ENV_HTTP_TIMEOUT} must be a number of seconds "
                              f"between 0 and 3600, not {text[:40]!r}")
    return seconds


def choose(g: Globals, config_file: Path) -> Choice:
    """The backoffice the flags and the environment name (ReconcilerError when none is
    named clearly: see ``reconciler.target``)."""
    choice = resolve(flag_url=g.api_url, embedded=g.embedded, config_file=config_file,
                     env=os.environ)
    if choice.url is not None:
        check_api_url(choice.url, insecure_http=g.insecure_http)
        checked_token(choice.token)  # a clear error now, before any request
    return choice


def open_provider(g: Globals, config_file: Path, *, read_only: bool = False) -> Provider:
    """The provider of the backoffice the flags and the environment name.

    ``read_only`` (validate, plan, list, show, import): an embedded backoffice that does
    not exist yet is not created; the command reads an empty one with the demo merchant,
    held in memory, as the first apply will create it.
    """
    choice = choose(g, config_file)
    if choice.url is not None:
        from reconciler.providers.http import HttpProvider
        from reconciler.providers.http_access import tls_context

        return HttpProvider(choice.url, checked_token(choice.token), timeout=http_timeout(),
                            target=choice.target, verify=tls_context(os.environ))
    from reconciler.providers.embedded import EmbeddedProvider

    assert choice.data_dir is not None
    if read_only and not choice.target.exists:
        return EmbeddedProvider.open_in_memory(choice.target)
    return EmbeddedProvider.open(choice.data_dir, target=choice.target)


def load_catalog(g: Globals, config_file: Path) -> Catalog:
    """The catalogue of the selected backoffice (for ``validate``)."""

    async def fetch() -> Catalog:
        provider = open_provider(g, config_file, read_only=True)
        try:
            return await provider.catalog()
        finally:
            await provider.aclose()

    return asyncio.run(fetch())

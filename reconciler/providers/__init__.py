"""Provider selection: the HTTP API when a URL is given, else the embedded backoffice."""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path

from reconciler.commands import Globals
from reconciler.errors import ReconcilerError
from reconciler.model import Catalog
from reconciler.providers.base import ListFilters, Provider
from reconciler.providers.http_access import check_api_url

__all__ = ["ListFilters", "Provider", "check_api_url", "embedded_data_dir", "load_catalog",
           "open_provider"]

ENV_HTTP_TIMEOUT = "WEBHOOKS_HTTP_TIMEOUT"
DEFAULT_HTTP_TIMEOUT = 15.0


def embedded_data_dir(config_file: Path) -> Path:
    """Where the embedded backoffice lives: ``.webhooks/`` beside the config file."""
    return config_file.resolve().parent / ".webhooks"


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


def open_provider(g: Globals, config_file: Path) -> Provider:
    """The HTTP provider when ``--api-url``/``WEBHOOKS_API_URL`` is set, else embedded."""
    if g.api_url:
        from reconciler.providers.http import HttpProvider
        from reconciler.providers.http_access import tls_context

        check_api_url(g.api_url, insecure_http=g.insecure_http)
        return HttpProvider(g.api_url, g.api_token, timeout=http_timeout(),
                            verify=tls_context(os.environ))
    from reconciler.providers.embedded import EmbeddedProvider

    return EmbeddedProvider.open(embedded_data_dir(config_file))


def load_catalog(g: Globals, config_file: Path) -> Catalog:
    """The catalogue of the selected backoffice (for ``validate``)."""

    async def fetch() -> Catalog:
        provider = open_provider(g, config_file)
        try:
            return await provider.catalog()
        finally:
            await provider.aclose()

    return asyncio.run(fetch())

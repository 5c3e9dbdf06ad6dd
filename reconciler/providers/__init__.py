"""Provider selection: the HTTP API when a URL is given, else the embedded backoffice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reconciler.commands import Globals
from reconciler.model import Catalog
from reconciler.providers.base import ListFilters, Provider

__all__ = ["ListFilters", "Provider", "embedded_data_dir", "load_catalog", "open_provider"]


def embedded_data_dir(config_file: Path) -> Path:
    """Where the embedded backoffice lives: ``.webhooks/`` beside the config file."""
    return config_file.resolve().parent / ".webhooks"


def open_provider(g: Globals, config_file: Path) -> Provider:
    """The HTTP provider when ``--api-url``/``WEBHOOKS_API_URL`` is set, else embedded."""
    if g.api_url:
        from reconciler.providers.http import HttpProvider

        return HttpProvider(g.api_url, g.api_token)
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

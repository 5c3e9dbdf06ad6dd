"""One module per command; each ``run`` returns an exit code. The CLI only dispatches."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Globals:
    """Options every command sees."""

    color: bool
    api_url: str | None
    debug: bool = False
    insecure_http: bool = False  # plain http:// to an API URL beyond loopback

    @property
    def api_token(self) -> str | None:
        """``WEBHOOKS_API_TOKEN``, checked (a clear error when it cannot be a token)."""
        from reconciler.providers.http_access import checked_token

        return checked_token(os.environ.get("WEBHOOKS_API_TOKEN"))

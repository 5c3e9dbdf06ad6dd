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

    @property
    def api_token(self) -> str | None:
        return os.environ.get("WEBHOOKS_API_TOKEN") or None

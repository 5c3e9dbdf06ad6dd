"""One module per command; each ``run`` returns an exit code. The CLI only dispatches."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Globals:
    """Options every command sees. ``api_url`` is the ``--api-url`` flag only and
    ``embedded`` the ``--embedded`` flag: which backoffice they and the environment name
    is decided by ``reconciler.target.resolve`` when a command opens one."""

    color: bool
    api_url: str | None
    debug: bool = False
    embedded: bool = False
    insecure_http: bool = False  # plain http:// to an API URL beyond loopback

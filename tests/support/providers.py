"""Backoffices for the reconciler's tests: the embedded one, and the HTTP API in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx

from backoffice.facade import Backoffice
from backoffice.http.api import create_app
from reconciler.providers import Provider
from reconciler.providers.embedded import EmbeddedProvider
from reconciler.providers.http import HttpProvider

TransportWrapper = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


class HttpBackoffice:
    """A real backoffice app served in-process; providers reach it through ASGITransport."""

    def __init__(self, path: Path, *, allow_private_targets: bool = False,
                 db_url: str | None = None) -> None:
        """On the SQLite file ``path``, or on ``db_url`` (its server key in ``path``'s
        folder)."""
        self.office = Backoffice.open(db_url or f"sqlite:///{path}", data_dir=path.parent,
                                      allow_private_targets=allow_private_targets)
        self.app = create_app(self.office)
        self.token = self.office.tokens.create_token("demo", "manage")

    def provider(self, wrap: TransportWrapper | None = None, **kw: object) -> HttpProvider:
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=self.app)
        if wrap is not None:
            transport = wrap(transport)
        return HttpProvider("http://backoffice.test", self.token, transport=transport,
                            **kw)  # type: ignore[arg-type]


async def providers(kind: str, tmp_path: Path, *, allow_private_targets: bool = False,
                    db_url: str | None = None) -> AsyncIterator[Provider]:
    """One provider of ``kind`` on a fresh backoffice with the demo merchant (a fixture body):
    on SQLite, or on the database ``db_url`` (a fresh PostgreSQL one).

    The embedded one always may deliver to loopback (local development); the HTTP one only
    with ``allow_private_targets``, as ``webhooks serve --allow-private-targets``.
    """
    if kind == "embedded":
        if db_url is None:
            p: Provider = EmbeddedProvider.open(tmp_path / ".webhooks")
        else:  # the embedded provider's code over another database than its own file
            p = EmbeddedProvider(Backoffice.open(db_url, data_dir=tmp_path / ".webhooks",
                                                 allow_private_targets=True))
        yield p
        await p.aclose()
        return
    bo = HttpBackoffice(tmp_path / "bo.db", allow_private_targets=allow_private_targets,
                        db_url=db_url)
    p = bo.provider()
    yield p
    await p.aclose()
    bo.office.close()

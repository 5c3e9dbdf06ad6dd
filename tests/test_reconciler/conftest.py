"""Fixtures of the reconciler's tests: each provider in turn, and the HTTP API in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from reconciler.providers import Provider
from tests.support.cli import Run
from tests.support.providers import HttpBackoffice, providers
from tests.support.secrets import assert_no_secret


@pytest.fixture(params=["embedded", "http"])
async def provider(request: pytest.FixtureRequest, tmp_path: Path,
                   backend: str) -> AsyncIterator[Provider]:
    """Each provider in turn, on a fresh backoffice with the demo merchant: on SQLite, and
    again on a fresh PostgreSQL database (``backend``)."""
    db_url = None if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    async for p in providers(request.param, tmp_path, db_url=db_url):
        yield p


@pytest.fixture
def http_backoffice(tmp_path: Path) -> Iterator[HttpBackoffice]:
    bo = HttpBackoffice(tmp_path / "bo.db")
    yield bo
    bo.office.close()


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Iterator[Run]:
    """The CLI in-process; at the end, no test secret may appear in what it printed. A
    module with a ``run`` of its own uses that one."""
    runner = Run(capsys)
    yield runner
    assert_no_secret(*runner.printed)

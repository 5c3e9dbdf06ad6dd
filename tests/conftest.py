"""Fixtures for every suite: a clean environment, the anyio backend, process cleanup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.env import clear_env
from tests.support.processes import Processes


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_env(monkeypatch)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def processes() -> Iterator[Processes]:
    """The processes this test starts; those still running at its end are killed."""
    with Processes() as procs:
        yield procs


@pytest.fixture(scope="module")
def module_processes() -> Iterator[Processes]:
    """The processes this module's fixtures start; killed when the module is done."""
    with Processes() as procs:
        yield procs

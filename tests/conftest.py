"""Fixtures for every suite: a clean environment, the anyio backend, process cleanup, and
the backoffice's database (SQLite, or a fresh database on a throwaway PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.env import clear_env
from tests.support.postgres import Cluster, start_cluster
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


# --- the backoffice's database: SQLite, and PostgreSQL where a test can run on either ----

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that asks (through its fixtures) for ``backend`` runs once per database,
    but those marked ``sqlite_only`` (their reason says why)."""
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", BACKENDS[:1] if only else BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: the database this run of the test uses."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the session (started on first use)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database (a new backoffice's), dropped after the test."""
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database()
    yield url
    cluster.drop_database(url)

"""`backoffice.db.copy`: every table of the schema copied whole, and the refusals.

The tables come from ``tables.metadata.sorted_tables``: a table added later fails
``test_the_seed_fills_every_table`` until the seed gives it rows, and is then compared
like the others. The target is a URL (``target_url``): a new SQLite file, or a new,
empty database on the session's throwaway PostgreSQL (tests/support/postgres.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from backoffice.db import tables as t
from backoffice.db.copy import copy_database
from backoffice.db.engine import Database
from backoffice.errors import SetupError
from tests.support.copies import fill, snapshot
from tests.support.postgres import Cluster
from tests.support.receivers import Receiver

TARGETS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The source: a SQLite database with rows in every table (made once per module)."""
    receiver = Receiver(script=["ack", "500"])
    try:
        url = f"sqlite:///{tmp_path_factory.mktemp('source') / 'backoffice.db'}"
        fill(url, receiver)
        yield url
    finally:
        receiver.close()


@pytest.fixture(params=TARGETS)
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of the parameter's kind (no table at all)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'copy' / 'backoffice.db'}"
    return empty_postgres(request)


def empty_postgres(request: pytest.FixtureRequest) -> str:
    """A new PostgreSQL database with no table, dropped when the test ends."""
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database(empty=True)
    request.addfinalizer(lambda: cluster.drop_database(url))
    return url


def copy(source: str, target: str) -> dict[str, int]:
    src, dst = Database.open(source), Database.open(target)
    try:
        return dict(copy_database(src, dst).counts)
    finally:
        src.close()
        dst.close()


def test_the_seed_fills_every_table(seeded: str) -> None:
    empty = sorted(name for name, rows in snapshot(seeded).items() if not rows)
    assert not empty, f"give these tables rows in tests/support/copies.py: {empty}"


def test_the_seed_fills_the_columns_tokens_and_the_audit_log_gained(seeded: str) -> None:
    rows = snapshot(seeded)
    for table, columns in ((t.tokens, ("id", "name", "expires_at", "last_used_at",
                                       "revoked_at")),
                           (t.audit_log, ("actor_token_id", "target_id", "target_name",
                                          "note"))):
        keys = table.c.keys()
        for column in columns:
            assert [r for r in rows[table.name] if r[keys.index(column)] is not None], column
    outcomes = {r[t.audit_log.c.keys().index("outcome")] for r in rows["audit_log"]}
    assert outcomes == {"ok", "refused"}


def test_every_table_is_copied_whole(seeded: str, target_url: str) -> None:
    before = snapshot(seeded)
    counts = copy(seeded, target_url)
    assert counts == {name: len(rows) for name, rows in before.items()}
    after = snapshot(target_url)
    assert set(after) == {table.name for table in t.metadata.sorted_tables}
    for name in before:
        assert after[name] == before[name], f"table {name} differs"
    assert snapshot(seeded) == before  # the source is untouched
    # The sealed columns are the same bytes (no key was used to open them).
    sealed = [row for row in after["webhooks"]
              if row[t.webhooks.c.keys().index("secret_sealed")] is not None]
    assert sealed and all(isinstance(row[t.webhooks.c.keys().index("secret_sealed")], bytes)
                          for row in sealed)
    previous = t.webhooks.c.keys().index("previous_secret_sealed")
    assert [type(row[previous]) for row in after["webhooks"] if row[previous]] == [bytes]


def test_a_round_trip_leaves_the_data_equal(seeded: str, tmp_path: Path) -> None:
    middle = f"sqlite:///{tmp_path / 'middle.db'}"
    last = f"sqlite:///{tmp_path / 'last.db'}"
    copy(seeded, middle)
    copy(middle, last)
    assert snapshot(last) == snapshot(seeded)


def test_a_round_trip_through_postgresql_leaves_the_data_equal(
        seeded: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """SQLite -> PostgreSQL -> SQLite: every value comes back as it was (times, bytes,
    JSON, booleans), and the serial keys on PostgreSQL continue after the copied ones."""
    middle = empty_postgres(request)
    last = f"sqlite:///{tmp_path / 'last.db'}"
    copy(seeded, middle)
    copy(middle, last)
    assert snapshot(last) == snapshot(seeded)
    db = Database.open(middle)
    try:
        with db.write() as conn:
            for table in t.metadata.sorted_tables:
                for column in table.primary_key.columns:
                    if column.autoincrement is not True:
                        continue
                    top = conn.execute(select(func.max(column))).scalar_one()
                    following = conn.exec_driver_sql(
                        f"SELECT nextval(pg_get_serial_sequence('{table.name}', "
                        f"'{column.name}'))").scalar_one()
                    assert following == (top or 0) + 1, (table.name, top, following)
    finally:
        db.close()


def test_a_target_that_is_not_empty_is_refused(seeded: str, target_url: str) -> None:
    copy(seeded, target_url)
    before = snapshot(target_url)
    with pytest.raises(SetupError, match="is not empty"):
        copy(seeded, target_url)
    assert snapshot(target_url) == before


def test_the_same_database_is_refused(seeded: str) -> None:
    path = Path(seeded.removeprefix("sqlite:///"))
    other_spelling = f"sqlite:///{path.parent}/../{path.parent.name}/{path.name}"
    with pytest.raises(SetupError, match="the same database"):
        copy(seeded, other_spelling)


@pytest.mark.parametrize(("version", "words"), [
    (t.SCHEMA_VERSION - 1, "older than this code .* run the source's migrations first"),
    (t.SCHEMA_VERSION + 1, "newer than this code"),
])
def test_a_source_at_another_schema_version_is_refused(
        seeded: str, tmp_path: Path, version: int, words: str) -> None:
    source = f"sqlite:///{tmp_path / 'other-version.db'}"
    copy(seeded, source)
    db = Database.open(source)
    with db.write() as conn:
        if version < t.SCHEMA_VERSION:
            conn.execute(update(t.schema_version).values(version=version))
        else:
            conn.execute(insert(t.schema_version).values(version=version))
    db.close()
    target = tmp_path / "target.db"
    with pytest.raises(SetupError, match=words):
        copy(source, f"sqlite:///{target}")


def test_a_memory_database_is_refused(seeded: str) -> None:
    with pytest.raises(SetupError, match="in-memory"):
        copy(seeded, "sqlite://")

"""Rotating the server key while servers keep serving (``webhooks backoffice rotate-key``).

The key file is a ring (``backoffice.crypto``): its first key seals, every key opens, and
a running server re-reads it when it changes. A rotation goes through these steps, each
safe to repeat, so an interrupted rotation is finished by running it again:

1. **Add.** A new random key goes first in ``server.key``, the old ones after it
   (written whole, then renamed into place). From now on every server seals with the new
   key (a server looks at the file before each seal) and opens with both.
2. **Record.** The database records the new key's id (``meta.server_key_id``, which a
   server opening the database checks) and that a rotation runs (``key_rotation``).
3. **Grace.** A wait (5 s by default, the database's busy timeout) for writes begun
   under the old key to commit.
4. **Re-seal.** Every value of every sealed column (``sealing.SEALED_COLUMNS``) not
   sealed with the new key is opened and sealed again with it, a batch of rows per
   transaction, each swapped only if unchanged since read (a server's concurrent write
   wins, and is already sealed with the new key). Passes repeat until one finds nothing
   left to re-seal.
5. **Retire.** ``server.key`` is rewritten with the new key alone, and the rotation's
   mark is removed. Nothing in the database names an old key any more.

A step 1 found done (the file holds more than one key) or a rotation mark means an
interrupted rotation: it is finished, with the key already first in the file, rather
than a new key being made. On SQLite the re-sealing overwrites the old ciphertexts in
place (``secure_delete``) and the WAL is checkpointed at the end; on PostgreSQL old row
versions remain until ``VACUUM`` reclaims them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from backoffice.crypto import read_key_file, write_key_file
from backoffice.db import sealed_queries as sq
from backoffice.db.meta import delete_meta, get_meta, set_meta
from backoffice.errors import SetupError
from backoffice.facade import Backoffice
from backoffice.sealing import SEALED_COLUMNS, SealedColumn

GRACE_S: Final = 5.0
BATCH: Final = 200
MAX_PASSES: Final = 10
ROTATION_MARK: Final = "key_rotation"
Progress = Callable[[str], None]


@dataclass
class Rotated:
    """What a rotation did."""

    key_id: str  # the key that seals now
    retired: tuple[str, ...]  # the ids of the keys dropped from the ring
    resumed: bool  # it finished a rotation that had been interrupted
    resealed: dict[str, int] = field(default_factory=dict)  # column -> values re-sealed
    values: dict[str, int] = field(default_factory=dict)  # column -> values it holds


def rotate(office: Backoffice, *, grace_s: float = GRACE_S, batch: int = BATCH,
           progress: Progress | None = None) -> Rotated:
    """Rotate the server key of ``office`` (opened on its key file); see the module."""
    note = progress or (lambda _: None)
    ring = office.sealing.box.ring
    if ring.path is None:
        raise SetupError(
            "the server key comes from WEBHOOKS_SERVER_KEY, not a key file: rotate-key "
            "rewrites server.key in the data directory, which running servers follow; "
            "unset WEBHOOKS_SERVER_KEY and put the key in server.key (mode 0600)")
    before, _ = read_key_file(ring.path)
    with office.db.exclusive() as conn:
        marked = get_meta(conn, ROTATION_MARK)
    resumed = len(before) > 1 or marked is not None
    if not resumed:
        _write(ring.path, [secrets.token_bytes(32), *before])
        note("added")
    ring.refresh()
    new_id = ring.primary_id
    retired = tuple(i for i in ring.ids if i != new_id)
    with office.db.exclusive() as conn:
        set_meta(conn, "server_key_id", new_id)
        set_meta(conn, ROTATION_MARK, new_id)
    note("recorded")
    time.sleep(grace_s)
    done = Rotated(new_id, retired, resumed)
    for _ in range(MAX_PASSES):
        if _pass(office, done, batch, note) == 0:
            break
    else:
        raise SetupError(
            "values sealed with an old key kept appearing while re-sealing: a server does "
            "not follow server.key (one given WEBHOOKS_SERVER_KEY, or on another machine "
            "with its own copy); give every server this server.key, then run rotate-key "
            "again to finish")
    for column in SEALED_COLUMNS:
        with office.db.read() as conn:
            done.values[column.name] = sq.count_values(conn, column.table, column.column)
    _write(ring.path, [ring.primary_key()])
    ring.refresh()
    note("retired")
    with office.db.exclusive() as conn:
        set_meta(conn, "server_key_id", new_id)
        delete_meta(conn, ROTATION_MARK)
    office.db.checkpoint()
    return done


def _write(path: Path, keys: list[bytes]) -> None:
    try:
        write_key_file(path, keys)
    except OSError as exc:
        raise SetupError(f"cannot write the key file {path}: {exc.strerror or exc}") from None


def _pass(office: Backoffice, done: Rotated, batch: int, note: Progress) -> int:
    """One pass over every sealed column; how many values it re-sealed."""
    resealed = 0
    for column in SEALED_COLUMNS:
        after = None
        while True:
            count, after = _batch(office, column, after, batch)
            resealed += count
            done.resealed[column.name] = done.resealed.get(column.name, 0) + count
            note(f"batch {column.name}")
            if after is None:
                break
    return resealed


def _batch(office: Backoffice, column: SealedColumn, after: object,
           batch: int) -> tuple[int, object]:
    """Re-seal one batch of the column in one transaction: (re-sealed, the last key read,
    or None when the column is done)."""
    box = office.sealing.box
    count = 0
    with office.db.write() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # the old ciphertexts are overwritten, not left in free pages
            was = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        rows = sq.sealed_values(conn, column.table, column.key, column.context_from,
                                column.column, after=after, limit=batch)
        for key, context_value, blob in rows:
            if box.current(blob):
                continue
            context = column.context(context_value)
            new = box.seal(box.open(blob, context=context), context=context)
            if sq.swap_sealed(conn, column.table, column.key, column.column, key, blob, new):
                count += 1
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA secure_delete = {int(was or 0)}")
    return count, (rows[-1][0] if len(rows) == batch else None)

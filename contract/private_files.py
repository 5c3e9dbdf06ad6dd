"""Files only their owner may read: 0600 files in 0700 folders, whatever the umask.

What the tool and the backoffice write holds secrets or what leads to them: the database
(sealed secrets, token hashes, URLs, the delivery log), its WAL, the server key, the
outbox's e-mails, crash logs. Each is created here, with its mode set on the open file
(``fchmod``), so neither a umask of 0o000 nor one of 0o277 changes it. SQLite makes its
``-wal``, ``-shm`` and ``-journal`` files itself, with the database file's mode: creating
the database file 0600 first makes them 0600 too.

Files and folders that already exist keep their mode (an operator may have chosen it);
``loose`` says which of them others may read or write, for a warning.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Final

FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700
_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) \
    | getattr(os, "O_CLOEXEC", 0)


def make_folder(path: Path) -> None:
    """Create ``path`` and its missing parents 0700; existing folders are left as they are."""
    missing: list[Path] = []
    current = path
    while not os.path.lexists(current) and current.parent != current:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it in the meantime: it is theirs
        os.chmod(folder, FOLDER_MODE)  # the umask may have taken bits from mkdir's mode
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")


def create_file(path: Path) -> int:
    """A new file, 0600, open for writing (the caller closes the descriptor);
    FileExistsError when there is one already (a link too: never followed)."""
    fd = os.open(path, _FLAGS, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file(path: Path, data: bytes, *, sync: bool = False) -> None:
    """A new file of ``data``, 0600; FileExistsError when there is one already."""
    fd = create_file(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def ensure_file(path: Path) -> bool:
    """Create ``path`` empty and 0600 unless it exists; whether it was created."""
    try:
        os.close(create_file(path))
    except FileExistsError:
        return False
    return True


def loose(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """The existing ones among ``paths`` that others may read or write, with their mode."""
    found = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            found.append((path, mode))
    return found


def chmod_hint(path: Path) -> str:
    """The command that makes ``path`` private."""
    return f"chmod {'700' if path.is_dir() else '600'} {path}"

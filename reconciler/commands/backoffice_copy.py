"""`webhooks backoffice copy`: copy a backoffice database into an empty one, then check
the row counts of every table and print them.

A database password never comes from a flag (the process list and the shell history show
flags): a URL with a password is given whole in ``WEBHOOKS_COPY_FROM`` /
``WEBHOOKS_COPY_TO``, or the password alone in a file (``--from-password-file``,
``--to-password-file``). No password is ever printed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from backoffice.db.copy import copy_database, open_for_copy, shown
from backoffice.db.engine import parse_url
from backoffice.errors import BackofficeError
from reconciler.commands import Globals
from reconciler.errors import EXIT_OK, ReconcilerError
from reconciler.password_files import read_password_file

FROM_ENV = "WEBHOOKS_COPY_FROM"
TO_ENV = "WEBHOOKS_COPY_TO"


@dataclass(frozen=True)
class Side:
    """One end of the copy as given: the flag's URL, its variable, its password file."""

    flag: str  # "--from" or "--to"
    env_name: str
    url: str | None
    password_file: Path | None


def resolve(side: Side, env: Mapping[str, str]) -> URL:
    """The database URL of one side, with its password from the environment or a file."""
    given = env.get(side.env_name) or None
    if side.url is not None and given is not None:
        raise ReconcilerError(f"{side.flag}: the database is given twice: use {side.flag} "
                              f"or {side.env_name}, not both")
    text = side.url if side.url is not None else given
    if text is None:
        raise ReconcilerError(f"{side.flag}: give the database URL with {side.flag} URL "
                              f"(or in {side.env_name})")
    try:
        url = parse_url(text)
    except BackofficeError:
        raise ReconcilerError(f"{side.flag}: the database URL is not valid "
                              "(e.g. sqlite:////var/lib/webhooks/backoffice.db, "
                              "postgresql+psycopg://user@host/db)") from None
    if side.url is not None and url.password is not None:
        raise ReconcilerError(
            f"{side.flag}: the URL has a password, which the process list and the shell "
            f"history would show: give the whole URL in {side.env_name}, or the password "
            f"in a file with {side.flag}-password-file")
    if side.password_file is not None:
        if url.password is not None:
            raise ReconcilerError(f"{side.flag}-password-file: the URL in {side.env_name} "
                                  "has a password already: give it one way only")
        url = url.set(password=read_password_file(f"{side.flag}-password-file",
                                                         side.password_file))
    return url


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """A refusal (a non-empty target, a schema version) or a database that cannot be
    used (unreachable, not a database) as a one-line error; no SQL, no password."""
    try:
        yield
    except BackofficeError as exc:
        raise ReconcilerError(f"cannot copy: {exc.detail}") from None
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise ReconcilerError(f"cannot copy: the database refused: {reason}") from None


def _remove(created: Path | None) -> None:
    """A SQLite target this copy created, removed again after a failure."""
    if created is None:
        return
    for path in (created, Path(f"{created}-wal"), Path(f"{created}-shm"),
                 Path(f"{created}-journal")):
        path.unlink(missing_ok=True)


def run(g: Globals, *, source: Side, target: Side, env: Mapping[str, str]) -> int:
    src_url, dst_url = resolve(source, env), resolve(target, env)
    rendered = (src_url.render_as_string(hide_password=False),
                dst_url.render_as_string(hide_password=False))
    with _refusals():
        src, _ = open_for_copy(rendered[0])
        try:
            dst, created = open_for_copy(rendered[1])
            try:
                copied = copy_database(src, dst)
            except BaseException:
                dst.close()
                _remove(created)
                raise
            dst.close()
        finally:
            src.close()
    width = max(len(name) for name, _ in copied.counts)
    for name, rows in copied.counts:
        click.echo(f"  {name:<{width}}  {rows:>9}")
    click.echo(f"Copied {copied.rows} rows in {len(copied.counts)} tables from "
               f"{shown(src_url)} to {shown(dst_url)}; every table's row count matches.")
    click.echo("Serve the copy with the source's server key (its server.key file, or "
               "WEBHOOKS_SERVER_KEY): the secrets and URL credentials are sealed with it.",
               err=True)
    return EXIT_OK

"""The backoffice database URL of `serve` and `token create`, with its password and pool.

A PostgreSQL password never comes from a flag, which anyone can read in the process list:
it is in ``WEBHOOKS_DB_URL`` (the environment), in ``PGPASSWORD`` (libpq reads it), or
in a file (``--db-password-file``). A ``--db`` URL with a password is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from contract.rules import unsafe_character_problem
from reconciler.errors import ReconcilerError
from reconciler.password_files import read_password_file

PASSWORD_PLACES = "WEBHOOKS_DB_URL, PGPASSWORD or --db-password-file"


def database_url(db_url: str, *, from_command_line: bool, password_file: Path | None = None,
                 pool_size: int | None = None, env: Mapping[str, str]) -> str:
    """The URL to open: checked for a password given on the command line, with the
    password file's password and the pool size put in (PostgreSQL only)."""
    if (problem := unsafe_character_problem(db_url)) is not None:  # never quoted: a password
        raise ReconcilerError(f"the database URL is not valid: it {problem}")
    try:
        url = make_url(db_url)
    except ArgumentError:
        return db_url  # the backoffice says what is wrong with it
    postgres = url.get_backend_name() == "postgresql"
    if url.password is not None and from_command_line:
        raise ReconcilerError(
            "--db: the URL holds a password, which anyone on this machine can read in the "
            f"process list: leave it out of --db and give it in {PASSWORD_PLACES}")
    if (password_file is not None or pool_size is not None) and not postgres:
        flag = "--db-password-file" if password_file is not None else "--db-pool-size"
        raise ReconcilerError(f"{flag} is for a PostgreSQL database "
                              "(postgresql+psycopg://user@host:5432/name)")
    if password_file is not None:
        if url.password is not None or env.get("PGPASSWORD"):
            where = "the database URL" if url.password is not None else "PGPASSWORD"
            raise ReconcilerError(f"the database password is given twice: in {where} "
                                  "and in --db-password-file; give it in one place")
        url = url.set(password=read_password_file("--db-password-file", password_file))
    if pool_size is not None:
        url = url.update_query_dict({"pool_size": str(pool_size)})
    return url.render_as_string(hide_password=False)


"""PostgreSQL: the engine's options, the setup of each connection, the transient errors.

A ``postgresql+psycopg://user@host:5432/name`` URL (plain ``postgresql://`` means the
same). The password is libpq's business: in the URL from ``WEBHOOKS_DB_URL``, in
``PGPASSWORD``, or in a password file; the command line refuses it (``reconciler``).
The pool takes its size from the URL's query: ``pool_size`` (default 10),
``max_overflow`` (10), ``pool_timeout`` (seconds to wait for a free connection, 10),
``pool_recycle`` (seconds, none); the other query options go to libpq
(``sslmode``, ``connect_timeout``, ``application_name``...).

Each connection waits at most ``LOCK_TIMEOUT_MS`` for a row lock (as SQLite's busy
timeout), then fails with 55P03, which the backoffice answers 503.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy.engine import URL

from backoffice.errors import SetupError

LOCK_TIMEOUT_MS: Final = 5000
DRIVER: Final = "postgresql+psycopg"
INSTALL_HINT: Final = "install it with: pip install 'webhooks-reconciler[postgres]'"

# name -> (default, lowest value) of the pool options read from the URL's query
POOL_OPTIONS: Final[dict[str, tuple[int | None, int]]] = {
    "pool_size": (10, 1),
    "max_overflow": (10, 0),
    "pool_timeout": (10, 1),
    "pool_recycle": (None, 1),
}

# SQLSTATEs that say "not now": retrying the same request later may well succeed.
TRANSIENT_SQLSTATES: Final = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "57P01", "57P02", "57P03",  # admin_shutdown, crash_shutdown, cannot_connect_now
    "53300",  # too_many_connections
    "25006",  # read_only_sql_transaction (a standby, during a failover)
})


def engine_options(url: URL, pool_size: int | None = None) -> tuple[URL, dict[str, Any]]:
    """The URL for SQLAlchemy (psycopg driver, pool options taken out of its query) and
    the keyword arguments for ``create_engine``; ``pool_size`` overrides the URL's."""
    if url.drivername == "postgresql":
        url = url.set(drivername=DRIVER)
    if url.drivername != DRIVER:
        raise SetupError(f"the database driver {url.drivername!r} is not supported: "
                         f"use {DRIVER}://user@host:5432/name")
    options: dict[str, Any] = {}
    for name, (default, lowest) in POOL_OPTIONS.items():
        given = url.query.get(name)
        if isinstance(given, tuple):
            given = given[-1]
        if name == "pool_size" and pool_size is not None:
            given = str(pool_size)
        value = default if given is None else _number(name, given, lowest)
        if value is not None:
            options[name] = value
    url = url.difference_update_query(POOL_OPTIONS)
    try:
        import psycopg  # noqa: F401  (the driver SQLAlchemy loads for this URL)
    except ImportError:
        raise SetupError(f"PostgreSQL needs the psycopg driver: {INSTALL_HINT}") from None
    return url, {"pool_pre_ping": True, **options}


def _number(name: str, text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = lowest - 1
    if value < lowest:
        raise SetupError(f"the database URL's {name} must be a whole number, at least "
                         f"{lowest} (got {text[:20]!r})")
    return value


def on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Every new connection: a bounded wait for locks, and UTC (no moment is stored as a
    PostgreSQL timestamp, but a session's own clock stays out of any doubt)."""
    was = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a SET outside a transaction outlives it
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
            cursor.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_connection.autocommit = was


def _clean(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value \
        else value


def without_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                executemany: bool) -> tuple[str, Any]:
    """PostgreSQL text cannot hold NUL, and a parameter with one fails the statement.
    The rules refuse NUL in whatever is stored, so what still carries one is a lookup
    (an id or a filter from a request): with U+FFFD in its place it matches nothing, as
    on SQLite, instead of failing with a 500."""
    def clean(params: Any) -> Any:
        if isinstance(params, dict):
            return {k: _clean(v) for k, v in params.items()}
        if isinstance(params, list | tuple):
            return type(params)(_clean(v) for v in params)
        return params

    if executemany and isinstance(parameters, list | tuple):
        return statement, type(parameters)(clean(p) for p in parameters)
    return statement, clean(parameters)


def is_transient(orig: BaseException | None) -> bool:
    """A psycopg error that a later retry may not meet: a serialization failure, a
    deadlock, a lock timeout, a server going down, a lost or refused connection."""
    code = getattr(orig, "sqlstate", None)
    if isinstance(code, str):
        return code in TRANSIENT_SQLSTATES or code.startswith("08")
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a postgresql engine has loaded it
        return False
    # No SQLSTATE: the connection failed or was lost before the server could say why.
    return isinstance(orig, psycopg.OperationalError)


# A constant key for the advisory lock that serialises schema changes and the server key
# check between processes opening one database at once ("webhooks" in ASCII).
SETUP_LOCK_KEY: Final = 0x776562686F6F6B73

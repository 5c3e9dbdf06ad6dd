"""The audit log: who changed what, when, and whether it was allowed.

Every write is one entry: webhook create, update and delete, a test-fire, an emit, a
resend, a recover, a secret reveal, a token created or revoked. Who: the token (its
public id and its name at the time), or the local operator (``cli:local``: the CLI on
the database itself, the embedded backoffice). What: the action, its target (id and
name) and the NAMES of the fields it set, never a value: no secret, URL, e-mail or
description reaches the log. A successful write is recorded by ``record`` inside the
write's own transaction, so there is no write without its entry and no entry without
its write. A write that changes nothing (an idempotent replay, a PATCH to the same
values, revoking a revoked token) writes nothing and is not recorded.

Refused attempts are recorded too (``Audit.refused``, in a transaction of their own, as
the write was rolled back), with the status and its title (Forbidden, Conflict...),
never the detail, which may quote what was sent. Growth is bounded: a caller without a
valid token (401) is never recorded, and each token (or the local operator) gets at most
``REFUSALS_PER_MINUTE`` refusal entries a minute per process; beyond that they are
counted, and the next entry recorded says how many were left out.

The rate limits (``check_rate``) count a merchant's successful emits and test-fires of
the last minute here, in the shared database: they hold across every server on it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from backoffice import cursors
from backoffice.auth import Actor
from backoffice.clock import Clock
from backoffice.db import audit_queries as aq
from backoffice.db.engine import Database
from backoffice.errors import BackofficeError, Invalid, TooManyRequests
from contract import times

log = logging.getLogger("backoffice.audit")

# The actions, as the log names them.
WEBHOOK_CREATE: Final = "webhook.create"
WEBHOOK_UPDATE: Final = "webhook.update"
WEBHOOK_DELETE: Final = "webhook.delete"
WEBHOOK_TEST: Final = "webhook.test"
WEBHOOK_RECOVER: Final = "webhook.recover"
NOTIFICATION_EMIT: Final = "notification.emit"
DELIVERY_RESEND: Final = "delivery.resend"
SECRET_REVEAL: Final = "secret.reveal"
TOKEN_CREATE: Final = "token.create"
TOKEN_REVOKE: Final = "token.revoke"
ACTIONS: Final = (WEBHOOK_CREATE, WEBHOOK_UPDATE, WEBHOOK_DELETE, WEBHOOK_TEST,
                  WEBHOOK_RECOVER, NOTIFICATION_EMIT, DELIVERY_RESEND, SECRET_REVEAL,
                  TOKEN_CREATE, TOKEN_REVOKE)

REFUSALS_PER_MINUTE: Final = 30
RATE_WINDOW_S: Final = 60
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 1000
_KEYS_KEPT: Final = 4096  # callers whose recent refusals are counted (bounds the memory)


def record(conn: Connection, actor: Actor, merchant_id: str, action: str, *, at: datetime,
           status: int, target_id: str | None = None, target_name: str | None = None,
           fields: Iterable[str] = (), note: str | None = None) -> None:
    """One successful write, in the caller's transaction (``fields``: names only)."""
    aq.insert_entry(conn, {
        "merchant_id": merchant_id, "at": times.iso_millis(at),
        "actor_token_id": actor.token_id, "actor": actor.name[:64], "action": action,
        "target_id": None if target_id is None else target_id[:64],
        "target_name": None if target_name is None else target_name[:200],
        "fields": sorted(set(fields)), "outcome": "ok", "status": status,
        "note": None if note is None else note[:200]})


def check_rate(conn: Connection, merchant_id: str, action: str, *, limit: int | None,
               now: datetime, what: str) -> None:
    """TooManyRequests (with the seconds until a slot frees) when the merchant already
    did ``action`` ``limit`` times in the last minute; None: no limit."""
    if limit is None:
        return
    nth = aq.nth_latest_ok(conn, merchant_id, action, limit)
    if nth is None:
        return
    window_start = times.iso_millis(now - timedelta(seconds=RATE_WINDOW_S))
    if nth <= window_start:
        return
    frees = times.parse_moment(nth) + timedelta(seconds=RATE_WINDOW_S)
    wait = max(1, math.ceil((frees - now).total_seconds()))
    raise TooManyRequests(
        f"this merchant made {limit} {what} in the last minute, its limit: "
        f"retry after {wait} s", retry_after=wait)


def entry_dict(row: aq.AuditRow) -> dict[str, Any]:
    """An entry as the API returns it."""
    return {"at": row.at, "actor": row.actor, "actor_token_id": row.actor_token_id,
            "action": row.action, "target_id": row.target_id,
            "target_name": row.target_name, "fields": row.fields, "outcome": row.outcome,
            "status": row.status, "note": row.note}


class Audit:
    """The audit log of every merchant: the refused attempts, and reading it back."""

    def __init__(self, db: Database, *, clock: Clock,
                 ticks: Callable[[], float] = time.monotonic,
                 refusals_per_minute: int = REFUSALS_PER_MINUTE) -> None:
        self.db = db
        self.clock = clock
        self.ticks = ticks
        self.refusals_per_minute = refusals_per_minute
        # (merchant, who) -> ticks of its refusals recorded in the last minute
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self._left_out: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def refused(self, actor: Actor, merchant_id: str, action: str, *, status: int,
                reason: str, target_id: str | None = None) -> bool:
        """Record a refused attempt (its status and title ``reason``), unless this caller
        had its share of refusal entries this minute; True if it was recorded. Never
        raises: a database too busy to record it leaves the refusal as it was."""
        left_out = self._admit((merchant_id, actor.token_id or actor.name))
        if left_out is None:
            return False
        note = reason if not left_out else \
            f"{reason} (and {left_out} more refusal(s) not recorded)"
        values: dict[str, Any] = {
            "merchant_id": merchant_id, "at": times.iso_millis(self.clock()),
            "actor_token_id": actor.token_id, "actor": actor.name[:64], "action": action,
            "target_id": None if target_id is None else target_id[:64], "target_name": None,
            "fields": [], "outcome": "refused", "status": status, "note": note[:200]}
        try:
            with self.db.write() as conn:
                aq.insert_entry(conn, values)
        except (BackofficeError, IntegrityError) as exc:  # busy, or the merchant is gone
            log.warning("a refused %s was not recorded in the audit log (%s)", action,
                        type(exc).__name__)
            return False
        return True

    def _admit(self, key: tuple[str, str]) -> int | None:
        """None when ``key`` is over its share this minute (counted as left out), else
        how many of its refusals were left out since its last entry."""
        now = self.ticks()
        with self._lock:
            recent = self._recent.get(key)
            if recent is None:
                if len(self._recent) >= _KEYS_KEPT:
                    self._forget_quiet(now)
                recent = self._recent[key] = deque()
            while recent and recent[0] <= now - RATE_WINDOW_S:
                recent.popleft()
            if len(recent) >= self.refusals_per_minute:
                self._left_out[key] = self._left_out.get(key, 0) + 1
                return None
            recent.append(now)
            return self._left_out.pop(key, 0)

    def _forget_quiet(self, now: float) -> None:
        for key in [k for k, d in self._recent.items() if not d or d[-1] <= now - RATE_WINDOW_S]:
            del self._recent[key]
        if len(self._recent) >= _KEYS_KEPT:
            self._recent.clear()

    @contextlib.contextmanager
    def refusals(self, actor: Actor, merchant_id: str, action: str,
                 target_id: str | None = None) -> Iterator[None]:
        """Record a BackofficeError refusing the block (a 4xx but 401), and let it go on."""
        try:
            yield
        except BackofficeError as exc:
            if 400 <= exc.status < 500 and exc.status != 401:
                self.refused(actor, merchant_id, action, status=exc.status, reason=exc.title,
                             target_id=target_id)
            raise

    def list_entries(self, merchant_id: str, *, since: str | None = None,
                     limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> dict[str, Any]:
        """A page of the merchant's entries, newest first: ``{"data", "next_cursor"}``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
        before = (cursors.decode("a1", cursor, start="the newest entry")
                  if cursor is not None else None)
        after = None
        if since is not None:
            try:
                after = times.iso_millis(times.parse_moment(since, now=self.clock()))
            except (ValueError, OverflowError) as exc:
                raise Invalid(f"since: {exc}") from None
        with self.db.read() as conn:
            rows = aq.search(conn, merchant_id, since=after, before_pk=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return {"data": [entry_dict(row) for row in rows],
                "next_cursor": cursors.encode("a1", rows[-1].pk) if more else None}

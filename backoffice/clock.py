"""The clock the parts share, and the one spelling of a moment the API shows.

A part takes ``clock`` in its constructor (tests pass a clock they move by hand), so
no part reads the time behind the others' backs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from contract.times import iso_seconds

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# A moment as the database stores it and the API shows it: ISO-8601 UTC, seconds.
iso = iso_seconds

"""One parser for durations and moments: ``--since``, token expiries, retry schedules.

A duration is a number of seconds (``300``, ``2.5``) or a sum of parts with units:
``90s``, ``15m``, ``1h30m``, ``90d``, ``2w``. A moment is a duration ago (``2h``), or
an ISO-8601 date or time (``2026-11-29``, ``2026-11-29T10:00:00Z``; without a zone,
UTC). Errors are ``ValueError`` with a message for people.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Final

UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION_S: Final = 100 * 365 * 86400
_PART: Final = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,6})?)([smhdw])")
_NUMBER: Final = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?")
_EXAMPLES: Final = "e.g. 300, 90s, 15m, 1h30m, 7d, 2w"


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` -> 90 minutes; a bare number is seconds."""
    spec = text.strip().lower()
    if _NUMBER.fullmatch(spec):
        seconds = float(spec)
    else:
        parts = _PART.findall(spec)
        if not parts or "".join(n + u for n, u in parts) != spec:
            raise ValueError(f"{text.strip()[:30]!r} is not a duration ({_EXAMPLES})")
        seconds = sum(float(n) * UNITS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
        raise ValueError(f"{text.strip()[:30]!r} is longer than 100 years")
    return timedelta(seconds=seconds)


def parse_moment(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO-8601 moment (UTC unless it says otherwise), or a duration before ``now``."""
    spec = text.strip()
    try:
        return (now or datetime.now(UTC)) - parse_duration(spec)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(spec.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{spec[:40]!r} is neither a moment (2026-11-29T10:00:00Z) nor a "
                         f"duration ago ({_EXAMPLES})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iso_seconds(moment: datetime) -> str:
    """``2026-11-29T10:00:00Z``: how the API shows a moment (the year always 4 digits)."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def iso_millis(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a fixed width, so text order is time order."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"

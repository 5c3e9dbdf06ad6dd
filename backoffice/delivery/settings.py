"""How deliveries behave: targets allowed, timeouts, the retry schedule, e-mail."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from backoffice.delivery.ssrf import Resolver

MINUTE: Final = 60
HOUR: Final = 3600
DAY: Final = 86400
# SIBS's schedule: every 5 minutes for the first retries, then 1, 2, 4, 6 and 12 hours,
# then daily; the last retry is a little over three days after the first attempt.
DEFAULT_SCHEDULE: Final[tuple[float, ...]] = (
    5 * MINUTE, 5 * MINUTE, 5 * MINUTE, 1 * HOUR, 2 * HOUR, 4 * HOUR, 6 * HOUR, 12 * HOUR,
    DAY, DAY,
)
MAX_SCHEDULE: Final = 100


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"300,300,3600"`` -> the delays before each retry, in seconds; ``""`` = no retries."""
    if not text.strip():
        return ()
    delays = []
    for part in text.split(","):
        try:
            delay = float(part.strip())
        except ValueError:
            raise ValueError(f"the retry schedule has {part.strip()[:20]!r}, not a number of "
                             "seconds (e.g. 300,300,3600)") from None
        if not math.isfinite(delay) or not 0 <= delay <= 30 * DAY:
            raise ValueError("each retry delay must be from 0 to 2592000 seconds (30 days)")
        delays.append(delay)
    if len(delays) > MAX_SCHEDULE:
        raise ValueError(f"the retry schedule has more than {MAX_SCHEDULE} retries")
    return tuple(delays)


@dataclass(frozen=True)
class DeliverySettings:
    """Delivery behaviour; the defaults are the safe ones ``webhooks serve`` starts with."""

    allow_private_targets: bool = False  # True: loopback and private targets are allowed
    timeout_s: float = 15.0  # one attempt, connect to last byte
    retry_schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    smtp_url: str | None = None  # smtp://host:port; None: .eml files in outbox_dir
    outbox_dir: Path | None = None  # None: <data dir>/outbox when there is a data dir
    mail_from: str = "webhooks-backoffice@localhost"
    summary_interval_s: float = DAY  # how often support addresses get failure summaries
    concurrency: int = 64  # attempts in flight at once in one process, all webhooks
    per_webhook: int = 4  # attempts in flight at once to one webhook, in one process
    resolver: Resolver | None = None  # None: the system's; tests inject their own
    lease_margin_s: float = 10.0  # a claim's lease: the attempt's deadline plus this
    group_commit: int = 128  # most outcomes (and claims) written in one transaction
    # Abuse bounds, per merchant and minute, counted in the database (so across every
    # server on it): emits (POST /v1/notifications) and test-fires. None: no limit.
    emits_per_minute: int | None = None
    test_fires_per_minute: int | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.per_webhook < 1 or self.group_commit < 1:
            raise ValueError("delivery concurrency, per-webhook and group sizes must be >= 1")
        if not self.lease_margin_s > 0:
            raise ValueError("the lease margin must be positive")
        for limit in (self.emits_per_minute, self.test_fires_per_minute):
            if limit is not None and limit < 1:
                raise ValueError("a rate limit must be at least 1 a minute (None: no limit)")

    @property
    def lease_s(self) -> float:
        """How long a claim holds a delivery before another worker may take it: the
        attempt's whole-exchange deadline plus a margin. The worker extends the lease
        (``heartbeat_s``) while the attempt runs and until its outcome is committed."""
        return self.timeout_s + self.lease_margin_s

    @property
    def heartbeat_s(self) -> float:
        """How often held leases are extended: several times within the margin."""
        return self.lease_margin_s / 4

"""`webhooks serve`: run the backoffice API and its delivery worker until SIGTERM."""

from __future__ import annotations

from backoffice.delivery.mail import parse_smtp_url
from backoffice.delivery.settings import DEFAULT_SCHEDULE, DeliverySettings, parse_schedule
from backoffice.facade import Backoffice
from backoffice.http.server import serve
from reconciler.commands import Globals
from reconciler.errors import ReconcilerError
from reconciler.providers.errors import backoffice_errors


def open_backoffice(db_url: str, delivery: DeliverySettings | None = None) -> Backoffice:
    """Open (creating on first use) the backoffice database, errors made user-facing."""
    with backoffice_errors("open", "backoffice database",
                           message=lambda detail: f"cannot open the backoffice database: {detail}"):
        return Backoffice.open(db_url, delivery=delivery)


def delivery_settings(*, allow_private_targets: bool = False, smtp_url: str | None = None,
                      retry_schedule: str | None = None, delivery_timeout: float = 15.0,
                      summary_interval: float = 86400.0) -> DeliverySettings:
    """The serve options as delivery settings; a bad value is a one-line error."""
    try:
        schedule = DEFAULT_SCHEDULE if retry_schedule is None else parse_schedule(retry_schedule)
    except ValueError as exc:
        raise ReconcilerError(f"--retry-schedule: {exc}") from None
    if smtp_url is not None:
        try:
            parse_smtp_url(smtp_url)
        except ValueError as exc:
            raise ReconcilerError(f"--smtp-url: {exc}") from None
    return DeliverySettings(allow_private_targets=allow_private_targets, smtp_url=smtp_url,
                            retry_schedule=schedule, timeout_s=delivery_timeout,
                            summary_interval_s=summary_interval)


def run(g: Globals, *, host: str, port: int, db_url: str, allow_private_targets: bool = False,
        smtp_url: str | None = None, retry_schedule: str | None = None,
        worker_interval: float = 1.0, delivery_timeout: float = 15.0,
        summary_interval: float = 86400.0, test_fire_limit: int = 4) -> int:
    settings = delivery_settings(
        allow_private_targets=allow_private_targets, smtp_url=smtp_url,
        retry_schedule=retry_schedule, delivery_timeout=delivery_timeout,
        summary_interval=summary_interval)
    with open_backoffice(db_url, settings) as backoffice:
        return serve(backoffice, host=host, port=port, log_level="debug" if g.debug else "info",
                     worker_interval=worker_interval,
                     test_fires_per_merchant=test_fire_limit)

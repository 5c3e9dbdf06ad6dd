"""`webhooks serve`: run the backoffice API and its delivery worker until SIGTERM.

The SMTP password comes from ``WEBHOOKS_SMTP_PASSWORD`` or ``--smtp-password-file``, never
from a flag or the URL (both show in the process list); it is never printed or logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from backoffice.delivery.mail import SmtpAccess, check_relay, parse_smtp_url
from backoffice.delivery.settings import DEFAULT_SCHEDULE, DeliverySettings, parse_schedule
from backoffice.facade import Backoffice
from backoffice.http import tls as tls_files
from backoffice.http.server import serve
from contract.rules import email_problem
from contract.stopping import stop_signals_noted
from reconciler.commands import Globals
from reconciler.commands.listen import bind
from reconciler.errors import ReconcilerError
from reconciler.password_files import read_password_file
from reconciler.providers.errors import backoffice_errors

SMTP_PASSWORD_ENV = "WEBHOOKS_SMTP_PASSWORD"


@dataclass(frozen=True)
class RateLimits:
    """Per merchant and minute; None: no limit."""

    emits_per_minute: int | None = None
    test_fires_per_minute: int | None = None


@dataclass(frozen=True)
class MailOptions:
    """The serve options about e-mail beyond --smtp-url."""

    starttls: bool = False
    password_file: Path | None = None
    ca_file: Path | None = None
    mail_from: str | None = None


def open_backoffice(db_url: str, delivery: DeliverySettings | None = None,
                    smtp: SmtpAccess | None = None) -> Backoffice:
    """Open (creating on first use) the backoffice database, errors made user-facing."""
    with backoffice_errors("open", "backoffice database",
                           message=lambda detail: f"cannot open the backoffice database: {detail}"):
        return Backoffice.open(db_url, delivery=delivery, smtp=smtp)


def _password(file: Path | None, env: Mapping[str, str]) -> str | None:
    """The SMTP password from the environment or a file (one way only); never quoted."""
    given = env.get(SMTP_PASSWORD_ENV) or None
    if file is None:
        return given
    if given is not None:
        raise ReconcilerError(f"the SMTP password is given twice: set {SMTP_PASSWORD_ENV} "
                              "or --smtp-password-file, not both")
    return read_password_file("--smtp-password-file", file)


def mail_settings(smtp_url: str | None, options: MailOptions,
                  env: Mapping[str, str]) -> tuple[str | None, SmtpAccess]:
    """The relay URL (STARTTLS folded into its scheme) and the access to it."""
    password = _password(options.password_file, env)
    if smtp_url is None:
        if options.starttls or options.password_file or options.ca_file:
            raise ReconcilerError("--smtp-starttls, --smtp-password-file and --smtp-ca-file "
                                  "need --smtp-url")
        return None, SmtpAccess()
    if options.starttls and smtp_url.startswith("smtp://"):
        smtp_url = "smtp+starttls://" + smtp_url.removeprefix("smtp://")
    access = SmtpAccess(password=password, ca_file=options.ca_file)
    try:
        check_relay(parse_smtp_url(smtp_url), access)
    except ValueError as exc:
        raise ReconcilerError(f"--smtp-url: {exc}") from None
    return smtp_url, access


def delivery_settings(*, allow_private_targets: bool = False, smtp_url: str | None = None,
                      retry_schedule: str | None = None, delivery_timeout: float = 15.0,
                      summary_interval: float = 86400.0,
                      mail_from: str | None = None) -> DeliverySettings:
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
    # A sender on this machine's own domain (the default, ...@localhost) is fine as From.
    local = mail_from is not None and mail_from.endswith("@localhost") \
        and email_problem(mail_from.removesuffix("localhost") + "localhost.example") is None
    if mail_from is not None and not local and (problem := email_problem(mail_from)):
        raise ReconcilerError(f"--mail-from {mail_from[:100]!r} {problem}")
    chosen = DeliverySettings(allow_private_targets=allow_private_targets, smtp_url=smtp_url,
                              retry_schedule=schedule, timeout_s=delivery_timeout,
                              summary_interval_s=summary_interval)
    return chosen if mail_from is None else replace(chosen, mail_from=mail_from)


def tls_pair(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """``--tls-cert`` and ``--tls-key``, both or neither, checked before anything starts."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ReconcilerError("--tls-cert and --tls-key go together: give both to serve "
                              "https, or neither")
    if (problem := tls_files.files_problem(cert, key)) is not None:
        raise ReconcilerError(problem)
    return cert, key


def run(g: Globals, *, host: str, port: int, db_url: str, allow_private_targets: bool = False,
        smtp_url: str | None = None, retry_schedule: str | None = None,
        worker_interval: float = 1.0, delivery_timeout: float = 15.0,
        summary_interval: float = 86400.0, test_fire_limit: int = 4,
        rates: RateLimits | None = None, mail: MailOptions | None = None,
        tls_cert: Path | None = None, tls_key: Path | None = None) -> int:
    tls = tls_pair(tls_cert, tls_key)
    mail = mail or MailOptions()
    rates = rates or RateLimits()
    smtp_url, access = mail_settings(smtp_url, mail, os.environ)
    settings = replace(delivery_settings(
        allow_private_targets=allow_private_targets, smtp_url=smtp_url,
        retry_schedule=retry_schedule, delivery_timeout=delivery_timeout,
        summary_interval=summary_interval, mail_from=mail.mail_from),
        emits_per_minute=rates.emits_per_minute,
        test_fires_per_minute=rates.test_fires_per_minute)
    from backoffice.http.server import warn_if_plain_http

    # From the first line printed on, a stop signal is noted and stops the server as soon
    # as it starts (the database opened meanwhile is closed as usual).
    with stop_signals_noted() as stops:
        warn_if_plain_http(host, tls)  # before the bind, which may fail
        sock = bind(host, port)  # a taken port: a clean error, before the database opens
        try:
            with open_backoffice(db_url, settings, access) as backoffice:
                return serve(backoffice, host=host, port=port,
                             log_level="debug" if g.debug else "info",
                             worker_interval=worker_interval,
                             test_fires_per_merchant=test_fire_limit, tls=tls, sock=sock,
                             stops=stops)
        finally:
            sock.close()

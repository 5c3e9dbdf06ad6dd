"""The backoffice as one object: it opens the storage, builds the parts and closes them.

It holds the parts and nothing else: callers use them directly
(``office.webhooks.create_webhook``, ``office.deliveries.emit_notification``). Each part
gets what it needs (the database, the clock, the sealing, its settings) through its
constructor and knows no other part, so no part reaches back through the office.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from sqlalchemy.exc import OperationalError

from backoffice import setup
from backoffice.audit import Audit
from backoffice.clock import Clock, utc_now
from backoffice.crypto import KeyRing, SecretBox
from backoffice.db.engine import Database, parse_url, sqlite_file
from backoffice.delivery.engine import Deliveries
from backoffice.delivery.log import DeliveryLog
from backoffice.delivery.mail import SmtpAccess
from backoffice.delivery.settings import DeliverySettings
from backoffice.errors import SetupError, Unavailable
from backoffice.merchants import Merchants
from backoffice.sealing import Sealing
from backoffice.tokens import Tokens
from backoffice.webhook_secrets import WebhookSecrets
from backoffice.webhooks import Webhooks


class Backoffice:
    """Merchants, their API tokens, their webhooks and the deliveries, over one database.

    ``db``, ``sealing``, ``merchants``, ``tokens``, ``webhooks``, ``secrets``,
    ``deliveries``, ``delivery_log``, ``audit``.
    """

    def __init__(self, db: Database, sealing: Sealing, *, allow_http_loopback: bool = True,
                 clock: Clock = utc_now, delivery: DeliverySettings | None = None,
                 allow_private_targets: bool | None = None,
                 data_dir: Path | None = None, smtp: SmtpAccess | None = None) -> None:
        settings = delivery or DeliverySettings()
        if allow_private_targets is not None:
            settings = replace(settings, allow_private_targets=allow_private_targets)
        self.db = db
        self.sealing = sealing
        self.merchants = Merchants(db, sealing, clock=clock)
        self.tokens = Tokens(db, clock=clock)
        self.webhooks = Webhooks(db, sealing, clock=clock,
                                 allow_http_loopback=allow_http_loopback,
                                 allow_private_targets=settings.allow_private_targets)
        self.secrets = WebhookSecrets(db, sealing, clock=clock)
        self.deliveries = Deliveries(db, sealing, settings, clock=clock, data_dir=data_dir,
                                     smtp=smtp)
        self.delivery_log = DeliveryLog(db, clock=clock,
                                        wake=self.deliveries.work_available.set)
        self.audit = Audit(db, clock=clock)

    @classmethod
    def open(cls, db_url: str, *, data_dir: str | Path | None = None,
             server_key: bytes | None = None, allow_http_loopback: bool = True,
             seed_demo: bool = True, clock: Clock = utc_now,
             env: Mapping[str, str] | None = None,
             delivery: DeliverySettings | None = None,
             allow_private_targets: bool | None = None,
             smtp: SmtpAccess | None = None) -> Backoffice:
        """Open (creating and seeding when empty) the backoffice at ``db_url``.

        The server key: ``server_key``, else ``WEBHOOKS_SERVER_KEY``, else ``server.key`` in
        ``data_dir`` (default ``WEBHOOKS_DATA_DIR``, else the SQLite file's directory),
        a key ring the server follows as it changes (``backoffice.crypto``).
        E-mail deliveries without an SMTP relay go to ``<data dir>/outbox/``.
        ``allow_private_targets`` (when given) overrides ``delivery``'s: True lets
        deliveries reach loopback and private addresses (local development only).
        ``smtp``: the SMTP password and CA file, for a relay URL that names a user.
        """
        env = os.environ if env is None else env
        url = parse_url(db_url)
        db = Database.open(db_url)
        try:
            folder = setup.data_dir(url_file=sqlite_file(url), data_dir=data_dir, env=env)
            ring = (KeyRing([server_key]) if server_key is not None
                    else setup.key_ring(folder, backend=url.get_backend_name(), env=env))
            sealing = Sealing(SecretBox(ring))
            office = cls(db, sealing, allow_http_loopback=allow_http_loopback, clock=clock,
                         delivery=delivery, allow_private_targets=allow_private_targets,
                         data_dir=folder, smtp=smtp)
            setup.prepare(db, sealing, clock=clock, seed_demo=seed_demo)
        except (OperationalError, Unavailable) as exc:  # cannot connect, cannot open the
            db.close()                                    # file, read-only, no server
            cause = exc.__cause__ if isinstance(exc, Unavailable) else exc
            orig = getattr(cause, "orig", None)
            reason = (str(orig).strip().splitlines() or [""])[0] if orig else str(exc)
            raise SetupError(f"cannot use database {db.url}: "
                             f"{reason or type(orig).__name__}") from None
        except BaseException:
            db.close()
            raise
        return office

    def close(self) -> None:
        self.deliveries.close()
        self.db.close()

    def __enter__(self) -> Backoffice:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

"""A backoffice database with rows in every table, and the full contents of one, for the
tests of `webhooks backoffice copy`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table

from backoffice.db import tables as t
from backoffice.db.copy import rows_of
from backoffice.db.engine import Database
from backoffice.delivery.settings import DeliverySettings
from backoffice.facade import Backoffice
from backoffice.web.sessions import WebSessions
from tests.support.backoffice import email_webhook, loopback_resolver, url_webhook
from tests.support.receivers import Receiver
from tests.support.secrets import OTHER_SIBS_SECRET, SIBS_SECRET

URL_PASSWORD = "Pw-copy-5e1f0c9a"


def fill(db_url: str, receiver: Receiver) -> dict[str, str]:
    """Seed ``db_url`` so that every table has rows: the demo merchant and another, tokens
    (one expiring and used, one revoked), webhooks (a sealed secret, one in rotation with
    its previous secret sealed too, a URL with credentials, an e-mail one), an idempotency
    record, notifications, deliveries and their attempts (one delivered, one failed), the
    audit log (a refusal among them), and a web session.
    Returns what the tests need again: the tokens and the webhooks' ids."""
    office = Backoffice.open(db_url, delivery=DeliverySettings(resolver=loopback_resolver,
                                                               timeout_s=2.0),
                             allow_private_targets=True)
    try:
        office.merchants.create_merchant("acme", "Acme Corp")
        office.merchants.add_store("acme", "ACM-01", "Acme HQ")
        office.merchants.add_terminal("acme", "90001", "ACM-01")
        office.merchants.add_credential("acme", "acme-client-1", "90001")
        manage = office.tokens.create_token("demo", "manage", name="ci-apply",
                                            expires_in="90d")
        office.tokens.authenticate(manage)  # its last use
        office.tokens.create_token("demo", "read")
        _, leaked = office.tokens.issue("demo", "reveal", name="leaked")
        office.tokens.revoke("demo", leaked["id"])
        office.tokens.create_token("acme", "manage")
        sealed = office.webhooks.create_webhook(
            "demo", url_webhook("orders", url=receiver.url("/orders"), secret=SIBS_SECRET,
                                labels={"team": "payments"},
                                applied={"digest": "sha256:" + "ab" * 32,
                                         "revision": "0123abc", "owner": "payments-team"}),
            idempotency_key="copy-1")
        with_password = receiver.url("/creds").replace("://", f"://shop:{URL_PASSWORD}@")
        creds = office.webhooks.create_webhook(
            "demo", url_webhook("with-creds", url=with_password, secret=SIBS_SECRET,
                                notifications=["mbway"]))
        # a rotation under way: the previous secret sealed beside the current one
        office.webhooks.update_webhook("demo", creds["id"], {"secret": OTHER_SIBS_SECRET})
        office.webhooks.create_webhook("demo", email_webhook("lisbon-mail"))
        office.webhooks.create_webhook(
            "demo", url_webhook("broken", url="http://127.0.0.1:9/nobody",
                                secret=SIBS_SECRET, notifications=["mbway"]))
        office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway",
                                                     "amount": {"value": 12.5, "currency": "EUR"}})
        office.deliveries.deliver_due()
        office.deliveries.test_webhook("demo", sealed["id"])
        WebSessions(office.db, office.tokens, clock=office.tokens.clock).start(manage)
        office.secrets.reveal("demo", sealed["id"])
        principal = office.tokens.authenticate(manage)
        office.audit.refused(principal.actor, "demo", "webhook.delete", status=412,
                             reason="Precondition failed", target_id=sealed["id"])
        return {"manage": manage, "orders": sealed["id"], "with-creds": creds["id"]}
    finally:
        office.close()


def contents(conn: Connection, table: Table) -> list[tuple[Any, ...]]:
    """Every row of a table, in key order, as the database gives them back."""
    return [tuple(row[c.name] for c in table.columns)
            for batch in rows_of(conn, table) for row in batch]


def snapshot(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The full contents of every table of the schema."""
    db = Database.open(db_url)
    try:
        with db.read() as conn:
            return {table.name: contents(conn, table) for table in t.metadata.sorted_tables}
    finally:
        db.close()

"""Every attempt of a delivery is kept, with its time, answer and error (schema version 4)."""

from __future__ import annotations

from pathlib import Path

from backoffice import Backoffice
from backoffice.db import delivery_queries
from backoffice.delivery.settings import DeliverySettings
from tests.support.backoffice import Clock, loopback_resolver, url_webhook
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET


def test_each_attempt_is_recorded_in_order(tmp_path: Path) -> None:
    receiver = Receiver(script=["500", "wrong-id", "ack"])
    clock = Clock()
    office = Backoffice.open(
        f"sqlite:///{tmp_path / 'bo.db'}", clock=clock, allow_private_targets=True,
        delivery=DeliverySettings(resolver=loopback_resolver, timeout_s=2.0,
                                  retry_schedule=(0, 0, 0)))
    try:
        office.webhooks.create_webhook(
            "demo", url_webhook(url=receiver.url(), secret=SIBS_SECRET))
        office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})
        for _ in range(3):
            assert office.deliveries.deliver_due() == 1
        with office.db.read() as conn:
            (found,) = delivery_queries.attempts_of(conn, [1]).values()
    finally:
        office.close()
        receiver.close()
    assert [a.number for a in found] == [1, 2, 3]
    assert [a.outcome for a in found] == ["failed", "failed", "delivered"]
    assert [a.status_code for a in found] == [500, 200, 200]
    assert found[0].error is not None and "500" in found[0].error
    assert found[1].error is not None and "notificationID" in found[1].error
    assert found[2].error is None and found[2].response_excerpt is not None
    assert all(a.duration_ms >= 0 and a.started_at.endswith("Z") for a in found)

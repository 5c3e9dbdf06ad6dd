"""The `webhooks listen` receiver app: deliveries made independently of the backoffice's own
sender (cryptography's AES-GCM, the standardwebhooks library) are decrypted or verified,
printed and acknowledged; bad ones get 400 and a line on stderr; the secret never shows."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks import Webhook

from contract import formats
from reconciler.cli import main
from reconciler.errors import ReconcilerError
from reconciler.receiver import check_secret, create_receiver, header_line
from tests.support.secrets import OTHER_SIBS_SECRET, SIBS_SECRET, WHSEC, assert_no_secret

pytestmark = pytest.mark.anyio

NOTIFICATION: dict[str, Any] = {
    "returnStatus": {"statusCode": "000", "statusMsg": "Success"},
    "paymentStatus": "Success", "paymentMethod": "CARD", "transactionID": "s2T1",
    "transactionDateTime": "2026-11-28T04:00:00Z", "amount": {"value": 12.5, "currency": "EUR"},
    "merchant": {"terminalId": 10001, "transactionId": "order-1"}, "paymentType": "PURS",
    "notificationID": "0b4f6e1d9c2a4e7f",
}
NOON = datetime(2026, 11, 28, 12, 0, 0)


def sibs_delivery(notification: dict[str, Any], secret: str = SIBS_SECRET
                  ) -> tuple[dict[str, str], bytes]:
    iv = os.urandom(12)
    sealed = AESGCM(base64.b64decode(secret)).encrypt(iv, json.dumps(notification).encode(), None)
    ciphertext, tag = sealed[:-16], sealed[-16:]
    headers = {"Content-Type": "text/plain",
               "X-Initialization-Vector": base64.b64encode(iv).decode(),
               "X-Authentication-Tag": base64.b64encode(tag).decode()}
    return headers, base64.b64encode(ciphertext)


def standard_delivery(notification: dict[str, Any], secret: str = WHSEC,
                      when: datetime | None = None, *,
                      wrap: bool = True) -> tuple[dict[str, str], bytes]:
    """Signed with the standardwebhooks library, in the specification's envelope."""
    when = when or datetime.now(UTC)
    message = {"type": "card.purchase", "timestamp": when.isoformat(), "data": notification}
    body = json.dumps(message if wrap else notification)
    signature = Webhook(secret).sign("msg_1", when, body)
    headers = {"Content-Type": "application/json", "webhook-id": "msg_1",
               "webhook-timestamp": str(int(when.timestamp())), "webhook-signature": signature}
    return headers, body.encode()


class App:
    """The receiver app, reached in-process; keeps what it printed."""

    def __init__(self, secret: str, fmt: str) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        app = create_receiver(secret, fmt=fmt, path="/hooks", out=self.out.append,
                              err=self.err.append, clock=lambda: NOON)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://127.0.0.1")

    async def post(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        return await self.client.post("/hooks", headers=headers, content=body)


async def test_sibs_decrypts_prints_and_acknowledges() -> None:
    app = App(SIBS_SECRET, "sibs")
    response = await app.post(*sibs_delivery(NOTIFICATION))
    assert response.status_code == 200
    assert response.json() == {"statusCode": "200", "statusMsg": "Success",
                               "notificationID": "0b4f6e1d9c2a4e7f"}
    assert app.out[0] == ("12:00:00  Card purchase (CARD/PURS)  Success  12.50 EUR  "
                          "terminal 10001  id 0b4f6e1d9c2a4e7f")
    assert json.loads(app.out[1]) == NOTIFICATION and app.out[1].startswith('{\n  "retu')
    assert app.err == []
    assert (await app.client.get("/hooks")).status_code == 200
    assert (await app.client.post("/elsewhere", content=b"x")).status_code == 404
    await app.client.aclose()


async def test_sibs_refuses_what_it_cannot_decrypt() -> None:
    app = App(SIBS_SECRET, "sibs")
    headers, body = sibs_delivery(NOTIFICATION, OTHER_SIBS_SECRET)
    wrong_key = await app.post(headers, body)
    headers, body = sibs_delivery(NOTIFICATION)
    tampered = await app.post(headers, base64.b64encode(b"\x00" + base64.b64decode(body)[1:]))
    no_iv = await app.post({"X-Authentication-Tag": headers["X-Authentication-Tag"]}, body)
    huge = await app.post(headers, b"A" * ((1 << 20) + 1))
    for response in (wrong_key, tampered, no_iv):
        assert response.status_code == 400
        assert response.json()["statusCode"] == "400"
    assert huge.status_code == 413 and huge.json()["statusCode"] == "413"
    assert app.out == [] and len(app.err) == 4
    assert all(line.startswith("12:00:00  rejected a delivery from 127.0.0.1: ")
               for line in app.err)
    assert "too large" in app.err[3]
    assert_no_secret(*app.err, wrong_key.text, tampered.text, no_iv.text)
    await app.client.aclose()


async def test_standard_webhooks_verifies_and_answers_204() -> None:
    app = App(WHSEC, "standard-webhooks")
    test_note = {**NOTIFICATION, "test": True}
    ok = await app.post(*standard_delivery(test_note))
    assert ok.status_code == 204 and app.out[0].endswith("(test)")
    assert json.loads(app.out[1]) == test_note

    headers, body = standard_delivery(NOTIFICATION)
    forged = await app.post(headers, body.replace(b"12.5", b"99.5"))
    stale = await app.post(*standard_delivery(
        NOTIFICATION, when=datetime.fromtimestamp(time.time() - 3600, UTC)))
    unsigned = await app.post({"Content-Type": "application/json"}, body)
    bare = await app.post(*standard_delivery(NOTIFICATION, wrap=False))  # no envelope
    assert [r.status_code for r in (forged, stale, unsigned, bare)] == [400, 400, 400, 400]
    assert "not a Standard Webhooks envelope" in app.err[3]
    assert len(app.out) == 2 and len(app.err) == 4
    assert_no_secret(*app.err, forged.text, stale.text, unsigned.text)
    await app.client.aclose()


def test_secrets_are_checked_without_being_quoted() -> None:
    assert formats.guess(WHSEC).name == "standard-webhooks"
    assert formats.guess(SIBS_SECRET).name == "sibs"
    check_secret("sibs", SIBS_SECRET)
    check_secret("standard-webhooks", WHSEC)
    for fmt, bad in (("sibs", WHSEC), ("sibs", "short"), ("standard-webhooks", SIBS_SECRET)):
        with pytest.raises(ReconcilerError) as caught:
            check_secret(fmt, bad)
        assert bad not in str(caught.value) and f"--format {fmt}" in str(caught.value)


def test_header_line_of_an_odd_notification() -> None:
    odd = {"type": "mbway\x1b[2J", "amount": {"value": "n/a"}, "notificationID": None}
    line = header_line(odd, NOON)  # stored before paymentType: named after its "type"
    assert line == "12:00:00  mbway\\x1b[2J notification (?/?)  ?  n/a  id None"
    hostile = {"paymentMethod": "MB\u202eWAY", "paymentType": ["PURS"], "amount": [],
               "paymentReference": {"entity": 1, "reference": "\x00" * 500},
               "token": {"tokenType": "MobilePhone", "value": 351912345678},
               "merchant": "nobody", "notificationID": "n\x1b"}
    line = header_line(hostile, NOON)
    assert "\u202e" not in line and "\x1b" not in line and "\x00" not in line
    assert "351912345678" not in line and "token MobilePhone 35*****78" in line
    assert len(line) < 300


def test_listen_command_refuses_bad_setups(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOKS_LISTEN_SECRET", raising=False)
    assert main(["listen"]) == 1
    assert "no secret: set WEBHOOKS_LISTEN_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("MY_SECRET", "not-a-key")
    assert main(["listen", "--secret-env", "MY_SECRET"]) == 1
    err = capsys.readouterr().err
    assert "does not fit --format sibs" in err and "not-a-key" not in err
    assert main(["listen", "--secret", WHSEC, "--format", "sibs"]) == 1
    assert_no_secret(capsys.readouterr().err)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("WEBHOOKS_LISTEN_SECRET", SIBS_SECRET)
        assert main(["listen", "--port", str(port)]) == 1
    out, err = capsys.readouterr()
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert_no_secret(out, err)

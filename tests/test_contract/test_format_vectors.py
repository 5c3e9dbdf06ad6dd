"""The two delivery formats against oracles: AESGCM used directly, the standardwebhooks
library, and the Standard Webhooks specification's own test vector."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contract.formats import FormatError, sibs, standard_webhooks, to_json_bytes
from tests.support.receivers import open_sibs
from tests.support.secrets import SIBS_SECRET, WHSEC

# The specification's own test secret: its vector needs it (a published, so weak,
# secret: the backoffice would refuse it as a webhook's secret).
SPEC_WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

NOTIFICATION = {"notificationID": "5f2b0c1d9e8a4b7c", "type": "mbway", "paymentStatus": "Success",
                "amount": {"value": 12.5, "currency": "EUR"}, "test": False, "note": "ação"}


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_sibs_decrypts_with_aesgcm_used_directly() -> None:
    headers, body = sibs.encode(NOTIFICATION, SIBS_SECRET)
    assert headers["Content-Type"] == "text/plain"
    iv = base64.b64decode(headers["X-Initialization-Vector"])
    tag = base64.b64decode(headers["X-Authentication-Tag"])
    assert len(iv) == 12 and len(tag) == 16
    key = base64.b64decode(SIBS_SECRET)
    plain = AESGCM(key).decrypt(iv, base64.b64decode(body) + tag, None)
    assert json.loads(plain) == NOTIFICATION
    assert open_sibs(lower(headers), body) == NOTIFICATION
    # ...and our decoder agrees, with headers in any case
    assert sibs.decode(lower(headers), body, SIBS_SECRET) == NOTIFICATION


def test_sibs_uses_a_fresh_iv_per_message_and_a_given_one_reproducibly() -> None:
    ivs = {sibs.encode(NOTIFICATION, SIBS_SECRET)[0]["X-Initialization-Vector"]
           for _ in range(50)}
    assert len(ivs) == 50
    iv = bytes(range(12))
    first = sibs.encode(NOTIFICATION, SIBS_SECRET, iv=iv)
    assert first == sibs.encode(NOTIFICATION, SIBS_SECRET, iv=iv)
    # a known answer computed independently with AESGCM
    sealed = AESGCM(base64.b64decode(SIBS_SECRET)).encrypt(
        iv, to_json_bytes(NOTIFICATION), None)
    assert first[1] == base64.b64encode(sealed[:-16])
    assert first[0]["X-Authentication-Tag"] == base64.b64encode(sealed[-16:]).decode()
    with pytest.raises(FormatError, match="12 bytes"):
        sibs.encode(NOTIFICATION, SIBS_SECRET, iv=b"short")


def test_sibs_decode_refuses_tampering_and_the_wrong_key() -> None:
    headers, body = sibs.encode(NOTIFICATION, SIBS_SECRET)
    other = base64.b64encode(bytes(32)).decode()
    with pytest.raises(FormatError, match="does not decrypt") as caught:
        sibs.decode(headers, body, other)
    assert other not in str(caught.value) and SIBS_SECRET not in str(caught.value)
    raw = bytearray(base64.b64decode(body))
    raw[0] ^= 1
    with pytest.raises(FormatError, match="does not decrypt"):
        sibs.decode(headers, base64.b64encode(bytes(raw)), SIBS_SECRET)
    with pytest.raises(FormatError, match="X-Authentication-Tag header is missing"):
        sibs.decode({"X-Initialization-Vector": headers["X-Initialization-Vector"]},
                            body, SIBS_SECRET)
    with pytest.raises(FormatError, match="not valid base64"):
        sibs.decode({**headers, "X-Initialization-Vector": "!!"}, body, SIBS_SECRET)
    with pytest.raises(FormatError, match="exactly 32 bytes"):
        sibs.encode(NOTIFICATION, base64.b64encode(bytes(16)).decode())


def test_standard_webhooks_spec_test_vector() -> None:
    body = b'{"test": 2432232314}'
    signature = standard_webhooks.signature(SPEC_WHSEC, "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                            1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": signature}
    assert standard_webhooks.verify(headers, body, SPEC_WHSEC, now=1614265330 + 10) == {
        "test": 2432232314}
    # the library agrees on the same vector
    assert Webhook(SPEC_WHSEC).sign("msg_p5jXN8AQM9LWM0D4loKWxJek",
                               datetime.fromtimestamp(1614265330, tz=UTC),
                               body.decode()) == signature


def test_standard_webhooks_verified_by_the_library() -> None:
    now = int(time.time())
    headers, body = standard_webhooks.sign(NOTIFICATION, WHSEC, msg_id="msg_1", timestamp=now)
    assert headers["Content-Type"] == "application/json"
    assert Webhook(WHSEC).verify(body, lower(headers)) == NOTIFICATION
    assert standard_webhooks.verify(headers, body, WHSEC) == NOTIFICATION
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(body + b" ", lower(headers))
    other = "whsec_" + base64.b64encode(bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, lower(headers))


def test_standard_webhooks_verify_refuses_bad_messages() -> None:
    now = int(time.time())
    headers, body = standard_webhooks.sign(NOTIFICATION, WHSEC, msg_id="msg_1", timestamp=now)
    with pytest.raises(FormatError, match="no webhook-signature matches"):
        standard_webhooks.verify(headers, body.replace(b"12.5", b"99.9"), WHSEC)
    old, old_body = standard_webhooks.sign(NOTIFICATION, WHSEC, msg_id="msg_1",
                                          timestamp=now - 3600)
    with pytest.raises(FormatError, match="more than 300 s away"):
        standard_webhooks.verify(old, old_body, WHSEC)
    # several signatures (a rotation): one match is enough
    rotated = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    assert standard_webhooks.verify(rotated, body, WHSEC) == NOTIFICATION
    with pytest.raises(FormatError, match="webhook-timestamp is not unix seconds"):
        standard_webhooks.verify({**headers, "webhook-timestamp": "soon"}, body, WHSEC)
    with pytest.raises(FormatError, match="starts with 'whsec_'"):
        standard_webhooks.sign(NOTIFICATION, "nope", msg_id="m", timestamp=now)


@pytest.mark.parametrize(("status", "body", "expected"), [
    (200, {"statusCode": "200", "statusMsg": "Success", "notificationID": "n1"}, "acknowledged"),
    (200, {"statusCode": "000", "statusMsg": "Success", "notificationID": "n1"}, "acknowledged"),
    (200, {"statusCode": "200", "statusMsg": "Success", "notificationID": "n2"}, "notificationID"),
    (200, {"statusCode": "200", "statusMsg": "Failure", "notificationID": "n1"}, "statusMsg"),
    (200, {"statusCode": "400", "statusMsg": "Success", "notificationID": "n1"}, "statusCode"),
    (201, {"statusCode": "200", "statusMsg": "Success", "notificationID": "n1"}, "HTTP 201"),
    (500, {}, "HTTP 500"),
    (200, "not json", "not UTF-8 JSON"),
    (200, [1], "not a JSON object"),
])
def test_sibs_acknowledgement(status: int, body: object, expected: str) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    ok, reason = sibs.acknowledged(status, raw, "n1")
    assert ok is (expected == "acknowledged")
    assert expected in reason


def test_standard_acknowledgement_is_any_2xx() -> None:
    assert standard_webhooks.acknowledged(200)[0] and standard_webhooks.acknowledged(204)[0]
    assert standard_webhooks.acknowledged(299)[0]
    assert not standard_webhooks.acknowledged(302)[0]
    assert "HTTP 500" in standard_webhooks.acknowledged(500)[1]

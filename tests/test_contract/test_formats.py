"""The delivery format registry: every format keeps its own promises, end to end."""

from __future__ import annotations

import base64
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import formats
from contract.formats import FormatError, sibs, standard_webhooks

NOTIFICATION = {"notificationID": "n-1", "paymentStatus": "Success", "amount": {"value": 1.5}}


@pytest.fixture(params=formats.NAMES)
def fmt(request: pytest.FixtureRequest) -> formats.DeliveryFormat:
    return formats.get(request.param)


def test_the_registry_names_each_format_once() -> None:
    assert formats.DEFAULT in formats.NAMES
    assert all(formats.get(name).name == name for name in formats.NAMES)
    assert all(formats.get(name).description for name in formats.NAMES)


def test_a_generated_secret_fits_its_format_only(fmt: formats.DeliveryFormat) -> None:
    secret = fmt.generate_secret()
    assert fmt.secret_problem(secret) is None
    assert formats.guess(secret) is fmt
    assert secret != fmt.generate_secret()
    for other in formats.NAMES:
        if other != fmt.name:
            assert formats.secret_problem(other, secret) is not None


def test_what_is_encoded_decodes_and_its_reply_acknowledges(
        fmt: formats.DeliveryFormat) -> None:
    secret = fmt.generate_secret()
    headers, body = fmt.encode(NOTIFICATION, secret, message_id="msg_n-1",
                               timestamp=int(time.time()))
    assert fmt.decode(headers, body, secret) == NOTIFICATION
    status, answer = fmt.reply(NOTIFICATION)
    reply = b"" if answer is None else formats.to_json_bytes(answer)
    assert fmt.acknowledged(status, reply, "n-1") == (True, "acknowledged")
    assert fmt.acknowledged(500, reply, "n-1")[0] is False
    with pytest.raises(FormatError) as caught:
        fmt.decode(headers, body, fmt.generate_secret())
    assert secret not in str(caught.value)


def test_an_unknown_format_is_a_problem_not_a_crash() -> None:
    problem = formats.secret_problem("carrier-pigeon", "x")
    assert problem is not None and "sibs" in problem


@given(st.binary(min_size=0, max_size=80))
def test_sibs_takes_canonical_base64_of_32_bytes_only(raw: bytes) -> None:
    text = base64.b64encode(raw).decode()
    assert (sibs.secret_problem(text) is None) is (len(raw) == 32)
    if len(raw) == 32:  # the same key spelled otherwise (no padding) is refused
        assert sibs.secret_problem(text.rstrip("=")) is not None


def test_non_canonical_base64_is_refused_with_the_reason() -> None:
    # The last character carries unused bits: "...A=" and "...B=" decode alike.
    canonical = base64.b64encode(bytes(range(32))).decode()
    assert canonical.endswith("8=")
    twin = canonical[:-2] + "9="
    assert base64.b64decode(twin) == bytes(range(32))
    problem = sibs.secret_problem(twin)
    assert problem is not None and "canonical" in problem and twin not in problem
    key = base64.b64encode(bytes(range(25))).decode()  # "...==": 4 unused bits
    twins = [key[:-3] + c + "==" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
             if c != key[-3] and base64.b64decode(key[:-3] + c + "==") == bytes(range(25))]
    assert twins
    assert standard_webhooks.secret_problem("whsec_" + key) is None
    assert standard_webhooks.secret_problem("whsec_" + twins[0]) is not None


def test_the_specification_vector() -> None:
    signed = standard_webhooks.signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                         "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                         b'{"test": 2432232314}')
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

"""Each merchant's fingerprint key: made with the merchant, sealed at rest, handed to its
own tokens only (never cached), and the key of every fingerprint the API publishes."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from backoffice import Backoffice
from contract.fingerprints import Fingerprints, decode_key
from tests.support.backoffice import Tokens, stored_bytes, url_webhook
from tests.support.secrets import SIBS_SECRET

URL = "https://hooks.shop.example/in?token=tok-fp-0c3e5d7a19"


@pytest.mark.anyio
async def test_the_key_makes_the_published_fingerprints_and_is_the_merchants_own(
        client: httpx.AsyncClient, office: Backoffice, tokens: Tokens, db_path: Path) -> None:
    created = (await client.post("/v1/webhooks", json=url_webhook(
        "fp", url=URL, secret=SIBS_SECRET))).json()
    read = {"Authorization": f"Bearer {tokens.read}"}
    answer = await client.get("/v1/fingerprint-key", headers=read)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json()["algorithm"] == "HMAC-SHA256"
    key = decode_key(answer.json()["key"])
    fingerprints = Fingerprints(key)
    assert created["secret_fingerprint"] == fingerprints.secret(SIBS_SECRET)
    assert created["url_fingerprint"] == fingerprints.url(URL)
    assert created["url"] == "https://hooks.shop.example/in?***"
    # Another merchant has another key: the same secret fingerprints differently there.
    other = await client.get("/v1/fingerprint-key",
                             headers={"Authorization": f"Bearer {tokens.other_manage}"})
    other_key = decode_key(other.json()["key"])
    assert other_key != key
    acme = (await client.post("/v1/webhooks", json=url_webhook("fp", secret=SIBS_SECRET),
                              headers={"Authorization": f"Bearer {tokens.other_manage}"}))
    assert acme.json()["secret_fingerprint"] == Fingerprints(other_key).secret(SIBS_SECRET)
    assert acme.json()["secret_fingerprint"] != created["secret_fingerprint"]
    assert (await client.get("/v1/fingerprint-key", headers={"Authorization": ""})
            ).status_code == 401
    # A new merchant gets one; at rest every key is sealed.
    office.merchants.create_merchant("newco", "New Co")
    new_key = office.merchants.fingerprints("newco").reveal_key()
    assert new_key not in (key, other_key)
    office.close()
    stored = stored_bytes(office, db_path.parent)
    assert b"tok-fp-0c3e5d7a19" not in stored and b"hooks.shop.example" in stored
    for raw in (key, other_key, new_key):
        for form in (raw, base64.b64encode(raw), raw.hex().encode()):
            assert form not in stored


def test_the_key_never_shows(office: Backoffice) -> None:
    fingerprints = office.merchants.fingerprints("demo")
    key = fingerprints.reveal_key()
    for text in (repr(fingerprints), str(fingerprints), repr(office.sealing.box)):
        assert key.hex() not in text and base64.b64encode(key).decode() not in text


def test_a_new_server_key_before_any_secret_makes_new_fingerprint_keys(db_path: Path) -> None:
    """A database with no sealed webhook value may change server key (as before); the
    fingerprint keys it cannot open any more are made anew (they fingerprint nothing)."""
    url = f"sqlite:///{db_path}"
    with Backoffice.open(url, server_key=bytes(32)) as office:
        before = office.merchants.fingerprints("demo").reveal_key()
    with Backoffice.open(url, server_key=bytes(range(32))) as office:
        after = office.merchants.fingerprints("demo").reveal_key()
        created = office.webhooks.create_webhook("demo", url_webhook(secret=SIBS_SECRET))
        assert created["secret_fingerprint"] == Fingerprints(after).secret(SIBS_SECRET)
    assert after != before

"""The attack of the security issue: a weak secret recovered from `webhooks plan --format
json` by hashing dictionary guesses against the fingerprint it publishes (28 guesses
when fingerprints were an unsalted SHA-256). Now a fingerprint is an HMAC under the
merchant's fingerprint key, which no plan, plan file or output holds: the same
dictionary finds nothing, whichever public construction or guessed key it tries, and
finds the secret at once with the key (which only the backoffice's tokens get), so the
key is all that stands between the two."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from backoffice.db import tables as t
from backoffice.upgrades import legacy_secret_fingerprint
from reconciler.cli import main
from reconciler.providers.embedded import EmbeddedProvider
from tests.support.secrets import strong_sibs

# A dictionary of weak words; the merchant's secret is one of them, repeated to the 32
# bytes a sibs secret must hold (stored before weak secrets were refused).
WORDS = ["123456", "password", "qwerty", "letmein", "dragon", "monkey", "football",
         "iloveyou", "admin", "welcome", "master", "hello", "freedom", "whatever",
         "shadow", "ninja", "mustang", "baseball", "superman", "trustno1", "princess",
         "azerty", "solo", "starwars", "passw0rd", "access", "flower", "sunshine"]
WEAK = "sunshine"

CONFIG = """\
version: 1
owner: guess-team
defaults:
  application: merchant
webhooks:
  weak-hook:
    type: url
    url: https://hooks.shop.example/weak
    notifications: [mbway]
    secret: ${env:WEAK_SECRET}
"""


def as_secret(word: str) -> str:
    return base64.b64encode((word * 32).encode()[:32]).decode()


def guesses() -> list[str]:
    return [as_secret(word) for word in WORDS]


def fingerprints_in(data: Any) -> list[str]:
    """Every fingerprint a plan's JSON publishes."""
    if isinstance(data, dict):
        found = [data["fingerprint"]] if data.get("sensitive") else []
        return found + [fp for value in data.values() for fp in fingerprints_in(value)]
    if isinstance(data, list):
        return [fp for value in data for fp in fingerprints_in(value)]
    return []


def hmac_guess(key: bytes, secret: str) -> str:
    mac = hmac.new(key, b"webhooks-reconciler/secret/v2\x00" + secret.encode(), hashlib.sha256)
    return "sha256:" + mac.hexdigest()[:16]


def test_a_weak_secret_is_not_recovered_from_the_plan_without_the_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "webhooks.yaml").write_text(CONFIG)
    monkeypatch.setenv("WEAK_SECRET", strong_sibs(1))
    cfg = ["-f", str(tmp_path / "webhooks.yaml")]
    assert main(["--no-color", "apply", *cfg, "--auto-approve"]) == 0
    # A weak secret is refused as a new one now: the backoffice holds one stored before
    # that rule, which every plan replacing it publishes the fingerprint of.
    provider = EmbeddedProvider.open(tmp_path / ".webhooks")
    try:
        office = provider.office
        hook_id = office.webhooks.find_webhook_by_name("demo", "weak-hook")["id"]
        with office.db.write() as conn:
            conn.execute(update(t.webhooks).where(t.webhooks.c.id == hook_id).values(
                secret_sealed=office.sealing.seal_secret(hook_id, as_secret(WEAK)),
                secret_fingerprint=office.merchants.fingerprints("demo").secret(
                    as_secret(WEAK)), secret_weak=True))
    finally:
        provider.office.close()
    capsys.readouterr()
    assert main(["--no-color", "plan", *cfg, "--format", "json"]) == 0
    published = capsys.readouterr().out
    assert main(["--no-color", "plan", *cfg, "--out", str(tmp_path / "plan.json")]) == 0
    capsys.readouterr()
    saved = (tmp_path / "plan.json").read_text()
    [change] = json.loads(published)["changes"]
    fingerprint = change["before"]["secret"]["fingerprint"]  # the weak secret's
    assert fingerprint in set(fingerprints_in(json.loads(saved)))

    # The attacker's tries, with what the plan and the documentation give: nothing found.
    public_tries = [legacy_secret_fingerprint,  # the construction this issue reported
                    lambda s: hmac_guess(b"", s), lambda s: hmac_guess(bytes(32), s),
                    lambda s: hmac_guess(b"webhooks-reconciler", s),
                    lambda s: "sha256:" + hashlib.sha256(s.encode()).hexdigest()[:16]]
    for attempt in public_tries:
        assert [g for g in guesses() if attempt(g) == fingerprint] == []

    # The key is what it takes: with it (a token's GET /v1/fingerprint-key; in-process
    # here), the same dictionary finds the weak secret. So the key must stay private,
    # and it is in neither output.
    provider = EmbeddedProvider.open(tmp_path / ".webhooks")
    try:
        key = provider.office.merchants.fingerprints("demo").reveal_key()
    finally:
        provider.office.close()
    found = [g for g in guesses() if hmac_guess(key, g) == fingerprint]
    assert found == [as_secret(WEAK)]
    for text in (published, saved):
        for form in (base64.b64encode(key).decode(), key.hex()):
            assert form not in text
        assert as_secret(WEAK) not in text

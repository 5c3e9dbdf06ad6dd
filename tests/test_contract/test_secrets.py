"""The weak-secret rule (``contract.secrets``): what it refuses and why, that a random key
never trips it, and that `validate` and the backoffice's API apply it alike."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from backoffice import Backoffice
from backoffice.errors import Invalid
from contract import formats
from contract.secrets import is_weak, secret_problem, weak_problem, weakness
from reconciler.commands.secret_generate import strong_secret
from reconciler.config import read_config
from tests.support.backoffice import url_webhook
from tests.support.secrets import SECRETS, WEAK_SIBS, WEAK_WHSEC


def sibs(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def whsec(raw: bytes) -> str:
    return "whsec_" + base64.b64encode(raw).decode()


# (format, secret, the words its reason holds; None: strong)
CASES = [
    ("sibs", sibs(b"correct-horse-battery-staple-123"), "printable text"),
    ("sibs", sibs(b"\x00" * 32), "only 1 distinct value"),
    ("sibs", sibs(b"\xff\x00" * 16), "only 2 distinct values"),
    ("sibs", sibs(bytes(range(32))), "regular sequence"),
    ("sibs", sibs(bytes((200 - 3 * i) % 256 for i in range(32))), "regular sequence"),
    ("standard-webhooks", whsec(b"my webhook secret is 24b"), "printable text"),
    ("standard-webhooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "published"),
    ("standard-webhooks", whsec(bytes(range(100, 164))), "regular sequence"),
    ("sibs", sibs(bytes.fromhex("9f3a1c" * 10 + "77aa")), "distinct"),  # a short cycle
    *[(formats.guess(s).name, s, None) for s in SECRETS],
    ("sibs", (Path(__file__).parents[2] / "dev" / "local-receiver.secret").read_text().strip(),
     None),
]


@pytest.mark.parametrize(("fmt", "secret", "why"), CASES)
def test_the_rule_names_why_and_never_quotes_the_secret(fmt: str, secret: str,
                                                        why: str | None) -> None:
    problem = weak_problem(fmt, secret, "the secret from env:X")
    if why is None:
        assert problem is None and not is_weak(fmt, secret)
        return
    assert problem is not None and why in problem and is_weak(fmt, secret)
    assert problem.startswith("the secret from env:X is weak: ")
    assert f"webhooks secret generate --format {fmt}" in problem
    assert secret not in problem and secret.removeprefix("whsec_") not in problem


def test_a_secret_that_does_not_fit_its_format_is_the_format_rules_business() -> None:
    short = sibs(os.urandom(16))
    assert weak_problem("sibs", short) is None  # not this rule's to say
    assert "32 bytes" in str(secret_problem("sibs", short))  # too short: refused all the same
    assert "24 to 64" in str(secret_problem("standard-webhooks", whsec(os.urandom(16))))
    assert weakness(b"") == "it is empty"


def test_the_grace_bounds_are_the_contracts() -> None:
    import json
    import typing

    from backoffice.http import bodies
    from contract.secrets import MAX_GRACE_S

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "webhooks.schema.json")
                        .read_text(encoding="utf-8"))
    assert schema["$defs"]["secret_grace"]["maximum"] == MAX_GRACE_S
    metadata = typing.get_args(bodies.GraceSeconds)[1]
    assert (metadata.metadata[0].ge, metadata.metadata[1].le) == (0, MAX_GRACE_S)


@pytest.mark.parametrize("fmt", formats.NAMES)
def test_random_keys_are_never_weak(fmt: str) -> None:
    # Each rule fires on random bytes with a probability far below 1e-10: thousands of
    # generated secrets, and random keys of the shortest allowed size, all pass.
    delivery = formats.get(fmt)
    for _ in range(3000):
        assert weak_problem(fmt, delivery.generate_secret()) is None
    if fmt == "standard-webhooks":
        for _ in range(3000):
            assert weak_problem(fmt, whsec(os.urandom(24))) is None
    assert secret_problem(fmt, strong_secret(fmt)) is None


AGREEMENT = [(fmt, secret) for fmt, secret, _ in CASES] + [
    ("sibs", WEAK_SIBS), ("standard-webhooks", WEAK_WHSEC), ("sibs", sibs(os.urandom(31))),
    ("standard-webhooks", whsec(os.urandom(23))), ("standard-webhooks", SECRETS[0]),
]


@pytest.mark.parametrize(("fmt", "secret"), AGREEMENT)
def test_validate_and_the_api_agree_on_every_secret(tmp_path: Path, fmt: str,
                                                    secret: str) -> None:
    (tmp_path / "secret.txt").write_text(secret)
    config = tmp_path / "webhooks.yaml"
    config.write_text("version: 1\nowner: o\nwebhooks:\n  h:\n    type: url\n"
                      "    url: https://hooks.shop.example/h\n    notifications: [mbway]\n"
                      "    application: merchant\n"
                      f"    format: {fmt}\n    secret: ${{file:secret.txt}}\n")
    report = read_config(config, secrets="require")
    with Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}") as office:
        try:
            office.webhooks.create_webhook("demo", url_webhook("h", secret=secret, format=fmt))
            api_refused = None
        except Invalid as exc:
            api_refused = exc.detail
    validate_refused = [p.message for p in report.errors]
    assert (report.config is None) == (api_refused is not None), (validate_refused,
                                                                   api_refused)
    if api_refused is not None:  # and for the same reason, quoting neither
        if "is weak: " in api_refused:
            reason = api_refused.split("is weak: ", 1)[1]
        else:  # the format's rule, before the subject it names
            reason = api_refused.split(": ", 1)[1][:40]
        assert any(reason in m for m in validate_refused), (reason, validate_refused)
        assert secret not in api_refused and all(secret not in m for m in validate_refused)

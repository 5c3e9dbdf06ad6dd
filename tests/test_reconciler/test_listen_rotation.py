"""`webhooks listen` during a secret's rotation: it holds the new secret and the previous
one, and accepts what opens with either, made by independent oracles (cryptography's
AES-GCM; the standardwebhooks library), or by the backoffice's format with both
signatures; what opens with neither gets 400, and no secret is ever printed."""

from __future__ import annotations

import time

import httpx
import pytest

from contract import formats
from reconciler.commands.listen import resolve_previous
from reconciler.errors import ReconcilerError
from reconciler.receiver import create_receiver
from tests.support.secrets import (
    OTHER_SIBS_SECRET,
    OTHER_WHSEC,
    SIBS_SECRET,
    WHSEC,
    strong_sibs,
    strong_whsec,
)
from tests.test_reconciler.test_listen import NOTIFICATION, sibs_delivery, standard_delivery

pytestmark = pytest.mark.anyio


class Rotating:
    """The receiver app holding ``secret`` and ``previous``, reached in-process."""

    def __init__(self, secret: str, previous: str, fmt: str) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        app = create_receiver(secret, previous=previous, fmt=fmt, out=self.out.append,
                              err=self.err.append)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://127.0.0.1")

    async def post(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        return await self.client.post("/hooks", headers=headers, content=body)

    def printed(self) -> str:
        return "\n".join(self.out + self.err)


async def test_sibs_opens_with_the_new_or_the_previous_key() -> None:
    app = Rotating(OTHER_SIBS_SECRET, SIBS_SECRET, "sibs")
    for key, mark in ((OTHER_SIBS_SECRET, False), (SIBS_SECRET, True)):
        answer = await app.post(*sibs_delivery(NOTIFICATION, key))
        assert answer.status_code == 200
        assert answer.json()["notificationID"] == NOTIFICATION["notificationID"]
        assert app.out[-2].endswith("(previous secret)") is mark
    refused = await app.post(*sibs_delivery(NOTIFICATION, strong_sibs(99)))
    assert refused.status_code == 400 and "(tried both secrets)" in app.err[-1]
    for secret in (SIBS_SECRET, OTHER_SIBS_SECRET):
        assert secret not in app.printed()


async def test_standard_webhooks_verifies_with_either_secret() -> None:
    app = Rotating(OTHER_WHSEC, WHSEC, "standard-webhooks")
    assert (await app.post(*standard_delivery(NOTIFICATION, OTHER_WHSEC))).status_code == 204
    assert (await app.post(*standard_delivery(NOTIFICATION, WHSEC))).status_code == 204
    assert app.out[-2].endswith("(previous secret)")
    # What the backoffice sends during the grace: both signatures in one header.
    headers, body = formats.get("standard-webhooks").encode(
        NOTIFICATION, OTHER_WHSEC, message_id="msg_2", timestamp=int(time.time()),
        also=(WHSEC,))
    assert len(headers["webhook-signature"].split()) == 2
    assert (await app.post(headers, body)).status_code == 204
    only_old = Rotating(WHSEC, strong_whsec(5), "standard-webhooks")  # a receiver not yet
    assert (await only_old.post(headers, body)).status_code == 204     # switched: accepts too
    stranger = Rotating(strong_whsec(6), strong_whsec(7), "standard-webhooks")
    assert (await stranger.post(headers, body)).status_code == 400


def test_the_previous_secret_comes_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_previous(None) is None  # unset: no rotation under way
    monkeypatch.setenv("WEBHOOKS_LISTEN_PREVIOUS_SECRET", f" {SIBS_SECRET}\n")
    assert resolve_previous(None) == SIBS_SECRET
    monkeypatch.setenv("OLD_KEY", WHSEC)
    assert resolve_previous("OLD_KEY") == WHSEC
    with pytest.raises(ReconcilerError, match="--previous-secret-env names NOPE, which is not"):
        resolve_previous("NOPE")


def test_a_previous_secret_of_another_format_is_refused() -> None:
    with pytest.raises(ReconcilerError, match="the previous secret does not fit --format sibs"):
        create_receiver(SIBS_SECRET, previous=WHSEC, fmt="sibs", out=print, err=print)

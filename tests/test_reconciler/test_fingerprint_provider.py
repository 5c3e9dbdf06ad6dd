"""The providers' ``fingerprints()``: the merchant's key, fetched once per provider, and a
clear error (never the key, never a bug) when a backoffice answers something else."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.providers import Provider
from reconciler.providers.http import HttpProvider
from tests.support.providers import HttpBackoffice

pytestmark = pytest.mark.anyio


async def test_the_key_is_the_merchants_and_fetched_once(provider: Provider) -> None:
    first = await provider.fingerprints()
    assert await provider.fingerprints() is first
    created = await provider.create({
        "name": "fp", "type": "url", "url": "https://h.example/x?token=t-1",
        "application": "merchant", "notifications": ["mbway"]}, idempotency_key="fp-1")
    assert created.url_fingerprint == first.url("https://h.example/x?token=t-1")
    assert created.url == "https://h.example/x?***"


async def test_the_http_provider_asks_once(http_backoffice: HttpBackoffice) -> None:
    asked: list[str] = []

    def count(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        class Counting(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                asked.append(request.url.path)
                return await transport.handle_async_request(request)
        return Counting()

    provider = http_backoffice.provider(wrap=count)
    try:
        key = (await provider.fingerprints()).reveal_key()
        await provider.fingerprints()
        assert asked == ["/v1/fingerprint-key"]
        assert key == http_backoffice.office.merchants.fingerprints("demo").reveal_key()
    finally:
        await provider.aclose()


BAD = base64.b64encode(b"\x01" * 31).decode()


@pytest.mark.parametrize(("status", "body", "message"), [
    (404, {"detail": "Not Found"}, "older than this webhooks; upgrade it"),
    (200, {"key": "not base64 \u202e"}, "malformed fingerprint key"),
    (200, {"key": BAD}, "malformed fingerprint key"),
    (200, {"key": 12345}, "malformed fingerprint key"),
    (200, {}, "malformed fingerprint key"),
    (200, ["key"], "malformed fingerprint key (not a JSON object)"),
    (200, "x" * 100_000, "malformed fingerprint key"),
])
async def test_a_backoffice_without_a_good_key_is_a_clear_error(
        status: int, body: object, message: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"})

    provider = HttpProvider("http://backoffice.test", "wbo_" + "T" * 43,
                            transport=httpx.MockTransport(answer), retries=0)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.fingerprints()
    finally:
        await provider.aclose()
    assert message in str(caught.value)
    assert BAD not in str(caught.value) and "\u202e" not in str(caught.value)

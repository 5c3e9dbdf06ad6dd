"""The HTTP provider: the backoffice's REST API over httpx.

Reads are retried on connection errors, 429 and 5xx with backoff that honours
``Retry-After``; so are writes that are safe to repeat (a create carries an
``Idempotency-Key``; updates and deletes carry ``If-Match``). Every failure
becomes one ``ProviderError`` line; the token never appears in any message.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import ssl
import time
from typing import Any
from urllib.parse import quote

import httpx

from contract.fingerprints import Fingerprints, decode_key
from contract.urls import origin
from reconciler import __version__
from reconciler.errors import AuthenticationError, NotFound, ProviderError, Unavailable
from reconciler.model import Catalog, RemoteWebhook
from reconciler.providers.base import (
    MAX_429_WAIT,
    DeliveryQuery,
    Identity,
    ListFilters,
    catalog_from_api,
    error_for_status,
)
from reconciler.providers.http_access import tls_failure
from reconciler.target import Target

PAGE_SIZE = 1000
RETRYABLE_STATUS = frozenset({429, 502, 503, 504, 500})
MAX_RETRY_AFTER = 60.0
# A test-fire waits for the receiver (the backoffice bounds that at 15 s by default), so
# its answer may take longer than any other request's.
TEST_TIMEOUT = 30.0


class HttpProvider:
    """One merchant's webhooks through ``/v1`` of a backoffice server."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        retries: int = 4,
        backoff: float = 0.5,
        target: Target | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.description = f"backoffice at {origin(self.base_url)}"
        self.target = target or Target("http", origin(self.base_url), token=bool(token))
        self._retries = retries
        self._backoff = backoff
        self._test_timeout = max(timeout, TEST_TIMEOUT)
        self._fingerprints: Fingerprints | None = None
        headers = {"User-Agent": f"webhooks-reconciler/{__version__}", "Accept": "application/json"}
        self._token_set = bool(token)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            verify=verify,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def whoami(self) -> Identity | None:
        try:
            data = _object(await self._request("GET", "/v1/whoami"), "identity")
        except NotFound:
            return None  # a backoffice older than /v1/whoami: the writes will say
        merchant, scopes = data.get("merchant"), data.get("scopes")
        if not isinstance(merchant, str) or not isinstance(scopes, list):
            raise ProviderError("the backoffice returned a malformed identity")
        return Identity(merchant, frozenset(str(s) for s in scopes))

    async def fetch(self, filters: ListFilters | None = None) -> list[RemoteWebhook]:
        query: dict[str, str | int] = dict(filters.as_query() if filters else {})
        query["limit"] = PAGE_SIZE
        out: list[RemoteWebhook] = []
        cursor: str | None = None
        while True:
            if cursor:
                query["cursor"] = cursor
            page = _object(await self._request("GET", "/v1/webhooks", params=query),
                           "webhook list")
            items = page.get("data")
            if not isinstance(items, list):
                raise ProviderError("the backoffice returned a malformed webhook list "
                                    "(no data list)")
            out.extend(RemoteWebhook.from_api(item) for item in items)
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    async def get(self, webhook_id: str) -> RemoteWebhook:
        response = await self._request("GET", f"/v1/webhooks/{_seg(webhook_id)}")
        return RemoteWebhook.from_api(_object(response, "webhook"))

    async def catalog(self) -> Catalog:
        data = _object(await self._request("GET", "/v1/catalog"), "catalogue")
        try:
            return catalog_from_api(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ProviderError("the backoffice returned a malformed catalogue") from None

    async def fingerprints(self) -> Fingerprints:
        if self._fingerprints is None:
            try:
                response = await self._request("GET", "/v1/fingerprint-key")
            except NotFound:
                raise ProviderError(
                    f"the {self.description} has no fingerprint key (GET /v1/fingerprint-key "
                    "is not found): it is older than this webhooks; upgrade it") from None
            key = _object(response, "fingerprint key").get("key")
            try:
                self._fingerprints = Fingerprints(decode_key(key if isinstance(key, str) else ""))
            except ValueError:  # the message never holds the key
                raise ProviderError("the backoffice returned a malformed fingerprint key "
                                    "(not the base64 of 32 bytes)") from None
        return self._fingerprints

    async def create(self, body: dict[str, Any], *, idempotency_key: str) -> RemoteWebhook:
        response = await self._request(
            "POST", "/v1/webhooks", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return RemoteWebhook.from_api(_object(response, "webhook"))

    async def update(
        self, webhook_id: str, patch: dict[str, Any], *, if_match: int | None
    ) -> RemoteWebhook:
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else {}
        response = await self._request(
            "PATCH", f"/v1/webhooks/{_seg(webhook_id)}", json=patch, headers=headers
        )
        return RemoteWebhook.from_api(_object(response, "webhook"))

    async def delete(self, webhook_id: str, *, if_match: int | None) -> None:
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else {}
        await self._request("DELETE", f"/v1/webhooks/{_seg(webhook_id)}", headers=headers)

    async def rotate_secret(self, webhook_id: str, *, grace_seconds: int | None,
                            if_match: int | None) -> RemoteWebhook:
        # Repeated only under If-Match: a retry after a lost answer then meets the new
        # version (412) instead of rotating twice.
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else {}
        body = {"grace_seconds": grace_seconds} if grace_seconds is not None else {}
        response = await self._request(
            "POST", f"/v1/webhooks/{_seg(webhook_id)}/secret:rotate", json=body,
            headers=headers, repeatable=if_match is not None)
        return RemoteWebhook.from_api(_object(response, "webhook"))

    async def test(self, webhook_id: str, notification: str | None = None,
                   scenario: str | None = None) -> dict[str, Any]:
        body = {key: value for key, value in (("notification", notification),
                                              ("scenario", scenario)) if value is not None}
        response = await self._request(
            "POST", f"/v1/webhooks/{_seg(webhook_id)}/test", json=body, repeatable=False,
            timeout=httpx.Timeout(self._test_timeout, connect=5.0),
        )
        return _object(response, "test result")

    async def emit(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._request("POST", "/v1/notifications", json=body, repeatable=False)
        return _object(response, "emitted notification")

    async def deliveries(self, webhook_id: str, limit: int = 20) -> list[dict[str, Any]]:
        response = await self._request(
            "GET", f"/v1/webhooks/{_seg(webhook_id)}/deliveries", params={"limit": limit}
        )
        data = _object(response, "delivery log").get("data")
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise ProviderError("the backoffice returned a malformed delivery log")
        return data

    async def find_deliveries(self, query: DeliveryQuery, *,
                              limit: int = 50) -> list[dict[str, Any]]:
        params: dict[str, str | int] = dict(query.as_query())
        return await self._paged("/v1/deliveries", params, limit, "delivery log")

    async def get_delivery(self, delivery_id: str) -> dict[str, Any]:
        response = await self._request("GET", f"/v1/deliveries/{_seg(delivery_id)}")
        return _object(response, "delivery")

    async def resend(self, delivery_id: str) -> dict[str, Any]:
        response = await self._request("POST", f"/v1/deliveries/{_seg(delivery_id)}/resend",
                                       repeatable=False)
        return _object(response, "delivery")

    async def recover(self, webhook_id: str, since: str) -> dict[str, Any]:
        response = await self._request("POST", f"/v1/webhooks/{_seg(webhook_id)}/recover",
                                       json={"since": since}, repeatable=False)
        return _object(response, "recover result")

    async def reveal_secret(self, webhook_id: str) -> dict[str, Any]:
        response = await self._request(
            "POST", f"/v1/webhooks/{_seg(webhook_id)}/secret/reveal", repeatable=False)
        revealed = _object(response, "revealed secret")
        if not isinstance(revealed.get("secret"), str):
            raise ProviderError("the backoffice returned a malformed revealed secret")
        return revealed

    async def audit(self, *, since: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {} if since is None else {"since": since}
        return await self._paged("/v1/audit", params, limit, "audit log")

    async def _paged(self, path: str, params: dict[str, str | int], limit: int,
                     what: str) -> list[dict[str, Any]]:
        """Up to ``limit`` items of a cursor-paged list (``data``, ``next_cursor``)."""
        out: list[dict[str, Any]] = []
        while len(out) < limit:
            params["limit"] = min(PAGE_SIZE, limit - len(out))
            page = _object(await self._request("GET", path, params=params), what)
            data = page.get("data")
            if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
                raise ProviderError(f"the backoffice returned a malformed {what}")
            out.extend(data)
            cursor = page.get("next_cursor")
            if not cursor:
                break
            params["cursor"] = str(cursor)
        return out[:limit]

    async def run_due(self, *, seconds: float) -> int:
        return 0  # the server's worker delivers

    async def _request(self, method: str, path: str, *, repeatable: bool = True,
                       **kwargs: Any) -> httpx.Response:
        """Send, retrying what is safe to retry.

        ``repeatable=False`` (a test-fire, an emit: each sends a notification) retries only
        when the backoffice surely did not act: the connection was never made, or 429.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if (tls := tls_failure(exc)) is not None:
                    raise Unavailable(f"cannot reach the {self.description}: {tls}") from None
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt > self._retries or not (repeatable or unsent):
                    raise Unavailable(self._transport_message(exc)) from None
                await asyncio.sleep(self._delay(attempt, None))
                continue
            retry = response.status_code in RETRYABLE_STATUS and (
                repeatable or response.status_code == 429
            ) and not _long_429(response)
            if retry and attempt <= self._retries:
                await asyncio.sleep(self._delay(attempt, response.headers.get("Retry-After")))
                continue
            if response.is_success:
                return response
            raise self._error(method, path, response)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            seconds = _parse_retry_after(retry_after)
            if seconds is not None:
                return min(seconds, MAX_RETRY_AFTER)
        return float(self._backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))

    def _transport_message(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.ConnectError):
            reason = "connection refused or host unreachable"
        elif isinstance(exc, httpx.TimeoutException):
            reason = "timed out"
        else:
            reason = type(exc).__name__
        return f"cannot reach the {self.description}: {reason}"

    def _error(self, method: str, path: str, response: httpx.Response) -> ProviderError:
        if response.status_code == 401 and not self._token_set:
            return AuthenticationError(
                f"WEBHOOKS_API_TOKEN is not set, and the {self.description} needs a token: "
                "export WEBHOOKS_API_TOKEN=$(webhooks token create --scope read | tail -n1) "
                "where the backoffice's database is (or ask its operator for one)", status=401)
        retry_after = (_parse_retry_after(response.headers.get("Retry-After", ""))
                       if response.status_code == 429 else None)
        return error_for_status(
            response.status_code, _problem_detail(response), f"{method} {path}", self.description,
            retry_after=retry_after,
        )


def _seg(value: str) -> str:
    """One path segment: an id is data, never more path (``../x`` or ``x?y`` stay in it)."""
    return quote(value, safe="")


def _object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON; a number or a nesting past reading
        body = None
    if not isinstance(body, dict):
        raise ProviderError(f"the backoffice returned a malformed {what} (not a JSON object)")
    return body


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return response.text[:200].strip()
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or "")[:500]
    return ""


def _long_429(response: httpx.Response) -> bool:
    """A 429 whose Retry-After asks for more than ``MAX_429_WAIT`` seconds."""
    if response.status_code != 429:
        return False
    wait = _parse_retry_after(response.headers.get("Retry-After", ""))
    return wait is not None and wait > MAX_429_WAIT


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())

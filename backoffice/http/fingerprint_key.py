"""``GET /v1/fingerprint-key``: the merchant's fingerprint key, for a client that compares.

The fingerprints the API publishes (``secret_fingerprint``, ``url_fingerprint``) are
HMACs under this key (``contract.fingerprints``), so a client that plans (the
reconciler) can fingerprint the values of its config and compare, while a fingerprint
seen elsewhere (a plan file, a pull-request comment, a CI log) allows no guessing.
Any token of the merchant may read it (the read scope); the answer must not be kept
(``Cache-Control: no-store``), and the server logs no body.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from backoffice.http.deps import NO_STORE, Office, Reader, errors
from backoffice.http.responses import json_response
from contract.fingerprints import encode_key

router = APIRouter()

SECRET_CONSTRUCTION = ("'sha256:' + the first 16 hex digits of HMAC-SHA256(key, "
                       "'webhooks-reconciler/secret/v2' + NUL + the secret as UTF-8)")
URL_CONSTRUCTION = ("'sha256:' + the first 16 hex digits of HMAC-SHA256(key, "
                    "'webhooks-reconciler/url/v2' + NUL + the URL in canonical form (scheme "
                    "and host lower-cased, default port dropped, empty path made '/') as "
                    "UTF-8)")


class FingerprintKey(BaseModel):
    """The key of the merchant's published fingerprints, and how they are made."""

    key: str = Field(description="Standard base64 of the 32-byte key. Keep it out of "
                                 "files, logs and outputs: with it, a fingerprint can be "
                                 "checked against guesses.")
    algorithm: Literal["HMAC-SHA256"]
    secret_fingerprint: str = Field(description="How secret_fingerprint is made")
    url_fingerprint: str = Field(description="How url_fingerprint is made")


@router.get("/v1/fingerprint-key", response_model=FingerprintKey, tags=["webhooks"],
            responses={200: {"headers": {"Cache-Control": {"schema": {"type": "string"}}}},
                       **errors(401, 503)})
def get_fingerprint_key(office: Office, principal: Reader) -> Response:
    """The merchant's fingerprint key (any token of the merchant), to compute the
    fingerprints of values one holds and compare them with the API's; never cached."""
    key = office.merchants.fingerprints(principal.merchant_id).reveal_key()
    body = {"key": encode_key(key), "algorithm": "HMAC-SHA256",
            "secret_fingerprint": SECRET_CONSTRUCTION, "url_fingerprint": URL_CONSTRUCTION}
    return json_response(body, headers=NO_STORE)

"""The sample secrets and identifiers of the tests, in one place.

Every one is a test value (never a real secret); each output a test reads is searched for
them with ``assert_no_secret``.
"""

from __future__ import annotations

SIBS_SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # base64 of bytes 0..31
OTHER_SIBS_SECRET = "HxcbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEAAAA="
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's test secret
OTHER_WHSEC = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
SECRETS = (SIBS_SECRET, OTHER_SIBS_SECRET, WHSEC, OTHER_WHSEC)

# The demo merchant's credentials (client ids), by terminal.
CRED_10001 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c1001"  # terminal 10001, store LIS-01
CRED_10002 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c1002"  # terminal 10002, store LIS-01
CRED_20001 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c2001"  # terminal 20001, store POR-01


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
            assert secret.removeprefix("whsec_") not in text

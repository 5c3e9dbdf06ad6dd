"""The sample secrets and identifiers of the tests, in one place.

Every one is a test value (never a real secret); each output a test reads is searched for
them with ``assert_no_secret``.
"""

from __future__ import annotations

import base64
import random

# Strong secrets (random bytes, made once): the backoffice refuses weak ones, such as
# bytes 0..31 or the Standard Webhooks specification's published test secret.
SIBS_SECRET = "v4i09+vG0I1cdQEMDXcCLg8RKlrzTX/28rROOopDFLo="
OTHER_SIBS_SECRET = "i4/Pgvcx/3pZ/yeCIMuWcX17wpUSUUpvExTO79y9k28="
WHSEC = "whsec_x3209IFzj3CE7Ursz7kcIpoBlnqvcLaekBVhwHEQXZ0="
OTHER_WHSEC = "whsec_WqHYk4ZD+z33LeIH3SeiZQacsap7PtJfQgeC0Kzc4SQ="
SECRETS = (SIBS_SECRET, OTHER_SIBS_SECRET, WHSEC, OTHER_WHSEC)
# Weak ones (contract.secrets): typed text put through base64. Refused as new secrets.
WEAK_SIBS = "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5LXN0YXBsZS0xMjM="  # "correct-horse-battery-staple-123"
WEAK_WHSEC = "whsec_b3VyLXdlYmhvb2stc2VjcmV0LWZvci0yMDI2LXRlc3Rz"


def strong_key(seed: int, size: int = 32) -> bytes:
    """``size`` random-looking bytes, the same for the same seed (a strong test key)."""
    return random.Random(seed).randbytes(size)


def strong_sibs(seed: int) -> str:
    """A strong SIBS secret (base64 of 32 bytes), the same for the same seed."""
    return base64.b64encode(strong_key(seed)).decode()


def strong_whsec(seed: int, size: int = 32) -> str:
    """A strong Standard Webhooks secret, the same for the same seed."""
    return "whsec_" + base64.b64encode(strong_key(seed, size)).decode()

# The demo merchant's credentials (client ids), by terminal.
CRED_10001 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c1001"  # terminal 10001, store LIS-01
CRED_10002 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c1002"  # terminal 10002, store LIS-01
CRED_20001 = "0f3c2a9e-1b7d-4c55-9a61-3e2d8b7c2001"  # terminal 20001, store POR-01


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
            assert secret.removeprefix("whsec_") not in text

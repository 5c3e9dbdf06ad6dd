"""What online `webhooks validate` accepts against a backoffice, that backoffice accepts
at apply: the reconciler and the backoffice apply one contract, not two copies of it.

Hypothesis writes configs whose fields mix good values with near misses and hostile
ones (control and bidirectional characters, URLs to literal private addresses,
non-canonical base64, codes the catalogue lacks); every config the reconciler's checks
pass is then applied to a real embedded backoffice, which refuses private targets or
allows them (as the embedded one of the CLI does), and publishes which in its catalogue.
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backoffice import Backoffice
from contract import catalogue
from reconciler.apply import apply_plan
from reconciler.config import read_config
from reconciler.plan import build_plan
from reconciler.providers.embedded import EmbeddedProvider
from tests.support.secrets import WEAK_SIBS, WEAK_WHSEC, strong_key, strong_whsec

KEY = strong_key(2024)
SIBS = base64.b64encode(KEY).decode()
WHSEC = strong_whsec(2025, 24)
# The demo merchant's stores and terminals, some near misses, and some hostile values.
APPLICATIONS = ["merchant", "store:LIS-01", "store:POR-01", "terminal:10001", "terminal:20001",
                "store:lis-01", "store:.x", "terminal:99999", "store:LIS-01\n", "shop:1",
                "terminal:" + "1" * 33]
HOSTILE = ["\x00", "\u202e", "\n", " ", "é", "\t", "@", "%00", "\x7f", "\ufeff", "\x01", "\r",
           "\x85", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c", "\u200b"]


def _text(good: list[str]) -> st.SearchStrategy[str]:
    """A good value, or one with a hostile character put somewhere in it."""
    return st.one_of(
        st.sampled_from(good),
        st.builds(lambda g, h, i: g[:i % (len(g) + 1)] + h + g[i % (len(g) + 1):],
                  st.sampled_from(good), st.sampled_from(HOSTILE), st.integers(0, 60)),
    )


URLS = _text(["https://hooks.shop.example/sibs", "http://127.0.0.1:9/hooks", "http://[::1]/h",
              "https://u:p@hooks.shop.example/x", "http://localhost:8080/", "https://H.EX:443",
              "http://shop.example/", "https://hooks.shop.example:99999/",
              "https://hooks.shop.example/" + "a" * 2030, "https://169.254.169.254/latest",
              "https://10.0.0.1/x", "https://2130706433/", "https://[::ffff:127.0.0.1]/",
              "https://0x7f.1:8443/", "https://u:p@192.168.1.1/", "https://[fe80::1]/"])
EMAILS = _text(["ops@shop.example", "a.b+c@mail.shop.example", "x@localhost", "ops@shop",
                "o'brien@shop.example", "a..b@shop.example", "-@-.example"])
# Strong, malformed, and weak (contract.secrets: typed text, a pattern, repeats).
SECRETS = st.sampled_from([SIBS, SIBS[:-2] + "9=", SIBS.rstrip("="), WHSEC,
                           WHSEC[:-1] + "x", "whsec_" + SIBS, base64.b64encode(KEY[:16]).decode(),
                           WEAK_SIBS, WEAK_WHSEC, base64.b64encode(bytes(range(32))).decode(),
                           "whsec_" + base64.b64encode(bytes(24)).decode()])


@st.composite
def webhooks(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["url", "email"]))
    hook: dict[str, Any] = {
        "type": kind,
        "application": draw(st.sampled_from(APPLICATIONS)),
        "notifications": draw(st.lists(st.sampled_from(catalogue.CODES), min_size=1,
                                       max_size=3, unique=True)),
    }
    if kind == "url":
        hook["url"] = draw(URLS)
        hook["format"] = draw(st.sampled_from(["sibs", "standard-webhooks"]))
        if draw(st.booleans()):
            hook["secret"] = "${file:secret.txt}"
    else:
        hook["email"] = draw(EMAILS)
    if draw(st.booleans()):
        hook["support_email"] = draw(EMAILS)
    if draw(st.booleans()):
        hook["description"] = draw(_text(["orders", "", "x" * 1000]))
    return hook


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["a", "b", "orders.v2", "x_y"]), webhooks(),
                       min_size=1, max_size=3),
       SECRETS, st.booleans())
def test_whatever_validate_accepts_the_backoffice_accepts(
        hooks: dict[str, dict[str, Any]], secret: str, private_targets: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "secret.txt").write_text(secret)
        config_file = folder / "webhooks.yaml"
        doc = {"version": 1, "owner": "agreement", "webhooks": hooks}
        config_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

        async def attempt() -> None:
            office = Backoffice.open(f"sqlite:///{folder / 'backoffice.db'}",
                                     allow_private_targets=private_targets)
            provider = EmbeddedProvider(office)
            try:
                catalog = await provider.catalog()
                report = read_config(config_file, secrets="require", catalog=catalog)
                if report.config is None:
                    event("refused by validate")
                    return  # refused before any write: nothing to agree on
                event("accepted by validate, then applied")
                plan = build_plan(report.config, await provider.fetch(),
                                  fingerprints=await provider.fingerprints())
                applied = await apply_plan(plan, provider)
                assert applied.ok, [(r.name, r.message) for r in applied.failed]
            finally:
                await provider.aclose()

        asyncio.run(attempt())

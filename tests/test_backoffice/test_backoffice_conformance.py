"""Schemathesis against /openapi.json: no 5xx, and every response as documented.

Driven through schemathesis's Python API (its pytest fixture loader does not run on
this pytest), one bounded Hypothesis run per operation and generation mode. The
examples are derandomized so CI sees the same ones every time; BACKOFFICE_FUZZ=1
draws fresh ones (run it that way when changing the API).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from backoffice import Backoffice
from backoffice.http.api import create_app
from tests.support.backoffice import Tokens, url_webhook

EXAMPLES = 25
DERANDOMIZE = not os.environ.get("BACKOFFICE_FUZZ")
# nothing for negative mode to break
NO_INPUT = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /v1/catalog", "GET /v1/whoami",
            "GET /v1/fingerprint-key"}
OPERATIONS = {
    "GET /healthz", "GET /readyz", "GET /metrics",
    "GET /v1/webhooks", "POST /v1/webhooks", "GET /v1/webhooks/{webhook_id}",
    "PATCH /v1/webhooks/{webhook_id}", "DELETE /v1/webhooks/{webhook_id}", "GET /v1/catalog",
    "GET /v1/whoami",
    "GET /v1/fingerprint-key",
    # The test fire sends real HTTP: the office fixture refuses private targets and its
    # resolver answers loopback names only, so the fuzzer reaches no other host.
    "POST /v1/webhooks/{webhook_id}/test", "GET /v1/webhooks/{webhook_id}/deliveries",
    "POST /v1/notifications", "GET /v1/deliveries", "GET /v1/deliveries/{delivery_id}",
    "POST /v1/deliveries/{delivery_id}/resend", "POST /v1/webhooks/{webhook_id}/recover",
    "POST /v1/webhooks/{webhook_id}/secret/reveal", "GET /v1/tokens", "POST /v1/tokens",
    "DELETE /v1/tokens/{token_id}", "GET /v1/audit",
    "POST /v1/webhooks/{webhook_id}/secret:rotate",
}


@pytest.fixture(autouse=True, scope="module")
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Hypothesis caches under ./.hypothesis even without an example database; keep it in tmp.
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi(office: Backoffice, tokens: Tokens,
                                     mode: GenerationMode) -> None:
    # A real webhook, so that generated ids sometimes meet one (PATCH/DELETE past 404).
    existing = office.webhooks.create_webhook("demo", url_webhook("existing"))
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(office))
    auth = {"Authorization": f"Bearer {tokens.manage}"}
    seen = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        seen.add(label)
        if mode is GenerationMode.NEGATIVE and label in NO_INPUT:
            continue
        strategy = operation.as_strategy(generation_mode=mode)
        if "{webhook_id}" in operation.path and mode is GenerationMode.POSITIVE:
            strategy = strategy | operation.as_strategy(
                path_parameters={"webhook_id": existing["id"]})

        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  derandomize=DERANDOMIZE, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            # Schema-valid is not always rule-valid (an https URL, a known store): a 422
            # there is the rules at work, so positive_data_acceptance is left out.
            case.call_and_validate(headers=auth, excluded_checks=[positive_data_acceptance])

        check()
    assert seen == OPERATIONS

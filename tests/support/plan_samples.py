"""Builders for plan tests: WebhookSpec, Config and RemoteWebhook objects, no provider."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract.fingerprints import Fingerprints
from reconciler import plan as planner
from reconciler.model import Config, RemoteWebhook, Secret, WebhookSpec
from reconciler.plan import Plan
from reconciler.plan.normalize import desired_labels
from tests.support.secrets import strong_sibs, strong_whsec

OWNER = "payments-team"
DIGEST = "sha256:" + "ab" * 32
# The moment plans are made at in tests whose output must not change (a replaced
# secret's grace is estimated from it).
NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
# Values that must never appear in any output; tests search every rendering for them.
SECRET_VALUE = strong_sibs(1401)
OTHER_SECRET_VALUE = strong_whsec(1402)
URL_PASSWORD = "hunter2-url-password"
OLD_URL_PASSWORD = "old-url-password-1"
FORBIDDEN = (SECRET_VALUE, OTHER_SECRET_VALUE, URL_PASSWORD, OLD_URL_PASSWORD)
# The samples' merchant fingerprint key (a real backoffice makes a random one).
FINGERPRINTS = Fingerprints(bytes(range(100, 132)))


def secret_fingerprint(value: str) -> str:
    """A secret's fingerprint under the samples' key."""
    return FINGERPRINTS.secret(value)


def build_plan(desired: Config, actual: list[RemoteWebhook], **kw: Any) -> Plan:
    """The planner, with the samples' fingerprint key."""
    return planner.build_plan(desired, actual, fingerprints=FINGERPRINTS, **kw)


def secret(value: str = SECRET_VALUE, source: str = "env:ORDERS_WEBHOOK_SECRET") -> Secret:
    return Secret(source, value)


def spec(name: str, **kw: Any) -> WebhookSpec:
    """A URL webhook unless told otherwise."""
    kw.setdefault("type", "url")
    kw.setdefault("application", "merchant")
    kw.setdefault("notifications", ("mbway",))
    if kw["type"] == "url":
        kw.setdefault("url", f"https://hooks.shop.example/{name}")
    else:
        kw.setdefault("email", f"{name}@shop.example")
    return WebhookSpec(name=name, **kw)


def remote_for(
    s: WebhookSpec,
    *,
    owner: str | None = OWNER,
    managed: bool = True,
    version: int = 3,
    **overrides: Any,
) -> RemoteWebhook:
    """The backoffice's copy of a spec, as apply would have left it (canonical, labelled)."""
    labels: dict[str, str] = {}
    if owner is not None:
        labels = desired_labels(owner, s.prevent_destroy)
        if not managed:
            del labels["managed-by"]
    fingerprint = (s.secret.fingerprint(FINGERPRINTS) if s.secret
                   else secret_fingerprint(f"generated-{s.name}"))
    base = RemoteWebhook(
        id="wh_" + hashlib.sha256(s.name.encode()).hexdigest()[:12],
        name=s.name,
        type=s.type,
        url=s.url,
        email=s.email,
        application=s.application,
        notifications=tuple(sorted(set(s.notifications))),
        support_email=s.support_email,
        format=s.format,
        enabled=s.enabled,
        description=s.description,
        secret_fingerprint=fingerprint,
        labels=labels,
        version=version,
        created_at="2026-11-28T04:00:00Z",
        updated_at="2026-11-28T04:00:00Z",
    )
    return replace(base, **overrides)


def config(*specs: WebhookSpec, owner: str = OWNER) -> Config:
    return Config(Path("webhooks.yaml"), 1, owner, {s.name: s for s in specs}, DIGEST)


def representative() -> tuple[Config, list[RemoteWebhook]]:
    """One plan with every kind of item: the golden files render this."""
    orders = spec(
        "orders-backend",
        url="https://api.shop.example/hooks/sibs",
        notifications=("mbway", "mb-reference", "authorised-payment"),
        secret=secret(),
        support_email="payments-oncall@shop.example",
        prevent_destroy=True,
    )
    lisbon = spec("lisbon-store-mail", type="email", email="lisbon@shop.example",
                  application="store:LIS-01")
    refunds = spec(
        "refunds-hook",
        url=f"https://refunds:{URL_PASSWORD}@hooks.shop.example/v2/refunds",
        notifications=("qr-code", "xpay", "authorised-payment"),
        secret=secret(OTHER_SECRET_VALUE, "env:REFUNDS_WEBHOOK_SECRET"),
        format="standard-webhooks",
    )
    porto = spec("porto-mail", type="email", email="porto@shop.example",
                 application="store:POR-01", description="Porto Baixa operations", enabled=False)
    terminal = spec("terminal-10001", type="email", email="t10001@shop.example",
                    application="terminal:10001")
    same = [spec(f"steady-{i}", notifications=("mbway", "xpay")) for i in range(3)]
    shared = spec("shared-alerts", type="email", email="alerts@shop.example")
    # a rename (with a field change), and a create that looks like stale-hook renamed
    billing = spec("billing-v2", url="https://hooks.shop.example/billing",
                   renamed_from=("billing",), description="Billing, second edition")
    alerts = spec("stale-alerts", type="email", email="stale@shop.example")
    cfg = config(orders, lisbon, refunds, porto, terminal, shared, billing, alerts, *same)

    actual = [
        remote_for(
            refunds,
            url=f"https://refunds:{OLD_URL_PASSWORD}@hooks.shop.example/v1/refunds",
            notifications=("authorised-payment", "mbway", "qr-code"),
            secret_fingerprint=secret_fingerprint("the-old-refunds-secret"),
        ),
        remote_for(porto, description="", enabled=True),
        remote_for(
            spec("terminal-10001", application="terminal:10001",
                 url="https://pos.shop.example/10001"),
        ),
        remote_for(same[0], secret_weak=True),  # stored before weak secrets were refused
        *[remote_for(s) for s in same[1:]],
        remote_for(replace(billing, name="billing", description="Billing")),
        remote_for(spec("old-hook", prevent_destroy=True)),
        remote_for(spec("stale-hook", type="email", email="stale@shop.example")),
        remote_for(spec("manual-hook"), owner=None),
        remote_for(spec("half-labelled"), managed=False),
        remote_for(spec("ops-hook"), owner="ops-team"),
        remote_for(shared, owner="ops-team"),
    ]
    return cfg, actual

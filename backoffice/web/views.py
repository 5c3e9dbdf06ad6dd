"""What the templates show of a webhook and of the merchant's catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backoffice.auth import Actor
from backoffice.web.render import Visit
from contract.labels import managing_owner


def catalog_of(visit: Visit) -> dict[str, Any]:
    assert visit.session is not None
    return visit.office.merchants.catalog(visit.session.principal.merchant_id)


def merchant_of(visit: Visit) -> str:
    assert visit.session is not None
    return visit.session.principal.merchant_id


def actor_of(visit: Visit) -> Actor:
    """Who a page's write is recorded as in the audit log: the session's token."""
    assert visit.session is not None
    return visit.session.principal.actor


def type_labels(catalog: Mapping[str, Any]) -> dict[str, str]:
    return {n["code"]: n["label"] for n in catalog["notification_types"]}


def application_options(visit: Visit, catalog: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(value, label) of every application a webhook may name, merchant first."""
    options = [("merchant", visit.t("app.merchant"))]
    options += [(f"store:{s['code']}", visit.t("app.store", code=s["code"], name=s["name"]))
                for s in catalog["stores"]]
    options += [(f"terminal:{term['id']}",
                 visit.t("app.terminal", id=term["id"], store=term["store"]))
                for term in catalog["terminals"]]
    return options


def application_label(visit: Visit, value: str, catalog: Mapping[str, Any]) -> str:
    return dict(application_options(visit, catalog)).get(value, value)


def webhook_view(webhook: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """The webhook with what the pages add: its managing owner (None when no config
    manages it), its target, and its notification types' labels."""
    return {**webhook, "owner": managing_owner(webhook["labels"]),
            "target": webhook["url"] if webhook["type"] == "url" else webhook["email"],
            "notification_labels": [labels.get(n, n) for n in webhook["notifications"]]}

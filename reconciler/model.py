"""Domain objects shared by config, validate, plan and apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from contract import formats
from contract import labels as contract_labels
from contract.catalogue import NOTIFICATION_TYPES
from contract.fingerprints import Fingerprints
from contract.secrets import DEFAULT_GRACE_S
from reconciler.errors import Problem, ProviderError

WebhookType = Literal["url", "email"]


@dataclass(frozen=True)
class Secret:
    """A secret value from ``${env:NAME}`` or ``${file:PATH}``; never printed.

    ``value`` is None when the source was not available (``validate`` without secrets).
    """

    source: str
    value: str | None = field(default=None, repr=False, compare=False)

    def fingerprint(self, fingerprints: Fingerprints) -> str | None:
        """Its fingerprint under the merchant's key (None when the value is unknown)."""
        return fingerprints.secret(self.value) if self.value is not None else None

    def __str__(self) -> str:
        return "(sensitive)"

    def __repr__(self) -> str:
        return f"Secret(source={self.source!r})"


@dataclass(frozen=True)
class WebhookSpec:
    """One webhook as the config declares it, defaults merged."""

    name: str
    type: WebhookType
    application: str
    notifications: tuple[str, ...]
    url: str | None = None
    email: str | None = None
    secret: Secret | None = None
    support_email: str | None = None
    format: str = formats.DEFAULT
    enabled: bool = True
    description: str = ""
    prevent_destroy: bool = False
    test_on_apply: bool = False
    # How long the secret a change replaces stays valid, in seconds (``secret_grace``).
    secret_grace: int = DEFAULT_GRACE_S
    renamed_from: tuple[str, ...] = ()  # the names it had before (``renamed_from``)
    line: int = 0  # where the webhook's block starts in the config, for messages
    # The url as written when it holds ${env:}/${file:} references: then ``url`` is
    # sensitive, shown as a fingerprint and redacted (see reconciler.plan.diff).
    url_source: str | None = None


@dataclass(frozen=True)
class SafetyThresholds:
    """The bulk-delete guard (``safety:`` in the config): deletes and replaces above
    ``percent`` of the owner's managed webhooks make a plan unsafe, once the owner has at
    least ``min_managed`` of them."""

    percent: int = 30
    min_managed: int = 10

    @property
    def data(self) -> dict[str, int]:
        return {"delete_threshold_percent": self.percent,
                "delete_threshold_min_managed": self.min_managed}


DEFAULT_THRESHOLDS = SafetyThresholds()


@dataclass(frozen=True)
class Config:
    """A loaded, validated ``webhooks.yaml``."""

    path: Path
    version: int
    owner: str
    webhooks: dict[str, WebhookSpec]
    digest: str  # sha256 of the file's bytes, recorded in saved plans
    warnings: tuple[Problem, ...] = ()
    environment: str | None = None  # the `environments:` entry applied (--environment)
    safety: SafetyThresholds = field(default_factory=SafetyThresholds)


@dataclass(frozen=True)
class Catalog:
    """What the backoffice knows of one merchant: the names a config may refer to."""

    notification_types: dict[str, str]
    stores: frozenset[str]
    terminals: dict[str, str]  # terminal id -> store code
    credentials: dict[str, str]  # client id -> terminal id
    # Whether the backoffice accepts URLs whose host is a literal private address;
    # None: it did not say (offline, or an older backoffice).
    private_targets: bool | None = None

    @classmethod
    def offline(cls) -> Catalog:
        return cls(dict(NOTIFICATION_TYPES), frozenset(), {}, {})


# Labels the reconciler writes on the webhooks it manages: who manages it and which owner
# (a plan deletes only its owner's webhooks), and prevent_destroy, kept on the webhook so
# that removing its block from the config cannot delete it. Their names live in the
# contract, since the backoffice's web pages read them too.
MANAGER = contract_labels.MANAGER
LABEL_MANAGED_BY = contract_labels.LABEL_MANAGED_BY
LABEL_OWNER = contract_labels.LABEL_OWNER
LABEL_PREVENT_DESTROY = contract_labels.LABEL_PREVENT_DESTROY


@dataclass(frozen=True)
class RemoteWebhook:
    """One webhook as the backoffice returns it; never carries the secret itself."""

    id: str
    name: str
    type: str
    url: str | None
    email: str | None
    application: str
    notifications: tuple[str, ...]
    support_email: str | None = None
    format: str = "sibs"
    enabled: bool = True
    description: str = ""
    secret_fingerprint: str | None = None
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    version: int = 1
    created_at: str = ""
    updated_at: str = ""
    # Set when the URL has credentials (a user part or a query string): the backoffice
    # then returns ``url`` redacted, and this fingerprint of the whole URL in its place.
    url_fingerprint: str | None = None
    # The stored secret is weak (stored before weak secrets were refused): plans warn.
    secret_weak: bool = False
    # During a rotation's grace: the replaced secret's fingerprint, when it stops being
    # valid, and which secret deliveries use ("current", "previous" or "both").
    previous_secret_fingerprint: str | None = None
    previous_secret_valid_until: str | None = None
    delivery_secret: str | None = None
    # The last-applied record (``applied`` in the API; ``reconciler.plan.drift`` reads it):
    # digest, revision, owner, at, and ``state``, the webhook as the last apply left it.
    applied: dict[str, Any] | None = field(default=None, hash=False, compare=False, repr=False)

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> RemoteWebhook:
        """Build from the API's JSON (or the service's dict); a malformed one is a ProviderError."""
        try:
            labels = d.get("labels") or {}
            return cls(
                id=str(d["id"]),
                name=str(d["name"]),
                type=str(d["type"]),
                url=d.get("url"),
                email=d.get("email"),
                application=str(d["application"]),
                notifications=tuple(str(n) for n in d.get("notifications") or ()),
                support_email=d.get("support_email"),
                format=str(d.get("format") or "sibs"),
                enabled=bool(d.get("enabled", True)),
                description=str(d.get("description") or ""),
                secret_fingerprint=d.get("secret_fingerprint"),
                labels={str(k): str(v) for k, v in dict(labels).items()},
                version=int(d.get("version", 1)),
                created_at=str(d.get("created_at") or ""),
                updated_at=str(d.get("updated_at") or ""),
                url_fingerprint=d.get("url_fingerprint") or None,
                secret_weak=d.get("secret_weak") is True,
                previous_secret_fingerprint=d.get("previous_secret_fingerprint") or None,
                previous_secret_valid_until=d.get("previous_secret_valid_until") or None,
                delivery_secret=d.get("delivery_secret") or None,
                applied=_applied(d.get("applied")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            ident = (d.get("name") or d.get("id")) if isinstance(d, dict) else None
            what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            label = f" {ident!r}" if ident else ""
            raise ProviderError(
                f"the backoffice returned a malformed webhook{label}: {what}"
            ) from None

    @property
    def owner(self) -> str | None:
        return self.labels.get(LABEL_OWNER) or None

    @property
    def applied_owner(self) -> str | None:
        """The owner whose config applied this webhook last (the last-applied record)."""
        owner = (self.applied or {}).get("owner")
        return owner if isinstance(owner, str) and owner else None

    @property
    def managed(self) -> bool:
        """Created by a webhooks-reconciler config (both labels present)."""
        return self.labels.get(LABEL_MANAGED_BY) == MANAGER and self.owner is not None

    @property
    def prevent_destroy(self) -> bool:
        return self.labels.get(LABEL_PREVENT_DESTROY) == "true"

    def __repr__(self) -> str:
        # The URL may carry a password (userinfo): the repr never shows it.
        from urllib.parse import urlsplit

        target = self.email
        if self.url is not None:
            parts = urlsplit(self.url)
            target = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
        return (
            f"RemoteWebhook(id={self.id!r}, name={self.name!r}, type={self.type!r}, "
            f"target={target!r}, version={self.version})"
        )


def _applied(value: object) -> dict[str, Any] | None:
    """The last-applied record when it is one (an object with a ``state`` object)."""
    if isinstance(value, dict) and isinstance(value.get("state"), dict):
        return value
    return None
